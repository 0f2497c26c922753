// What the node's ingress serves (issue 13), as plain values: the listeners on
// the public ports, their HTTP routes, and the backends with the ready replicas
// behind them. route_table.h derives it from the desired deployments and the
// replicas; haproxy_config.h renders it for HAProxy; the ingress controller
// (agent/daemon) applies changes of servers through HAProxy's runtime API and
// everything else through a reload. Copy freely.
//
// Semantics (the issue's, which the spec reference repeats):
//   - every distinct `port` of an `expose: public` endpoint is one listener on
//     the ingress address (ZLAYER_INGRESS_ADDRESS, default every address);
//   - http and websocket endpoints on a port share one HTTP listener; https
//     endpoints make it a TLS listener (terminated there, forwarded as plain
//     HTTP); a port cannot be both (a deploy error);
//   - tcp endpoints are a TCP listener each, forwarded to one backend; udp
//     endpoints are forwarded by nftables (UdpForward), not HAProxy;
//   - the replica receives on the endpoint's target_port.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zlayer::agent::ingress {

// One ready replica behind a backend.
struct ProxyServer {
  std::string name;     // the replica's container id, "shop-web-0"
  std::string address;  // its IPv4 address on its deployment's network
  uint16_t port = 0;    // the endpoint's target_port
  bool operator==(const ProxyServer&) const = default;
};

enum class BackendMode { kHttp, kTcp };

// One endpoint of one service: where a route or a TCP listener sends traffic.
struct ProxyBackend {
  std::string name;  // BackendName(deployment, service, endpoint)
  BackendMode mode = BackendMode::kHttp;
  std::string deployment;
  std::string service;
  std::string endpoint;
  std::vector<ProxyServer> servers;  // the ready replicas only, sorted by name
  bool operator==(const ProxyBackend&) const = default;
};

// One http, https or websocket endpoint on its listener.
struct HttpRoute {
  // "" matches any host; "api.example.com" exactly; "*.example.com" any name
  // ending in ".example.com" (any depth, not example.com itself). Lower case.
  // Compared with the request's Host without its port, case-insensitively.
  std::string host;
  // A prefix on '/' boundaries: "/api" matches "/api" and "/api/x", not
  // "/apix". Starts with '/', no trailing '/' except for "/" itself.
  std::string path = "/";
  std::string backend;  // a ProxyBackend's name
  std::string deployment;
  std::string service;
  std::string endpoint;
  uint16_t redirect_port = 0;  // in Listener::https_redirects only: the https listener's port
  bool operator==(const HttpRoute&) const = default;
};

enum class ListenerKind { kHttp, kHttps, kTcp };

struct Listener {
  uint16_t port = 0;
  ListenerKind kind = ListenerKind::kHttp;
  // kHttp and kHttps. The most specific host wins (exact, then the longest
  // wildcard, then any host), then the longest path; nothing matching is a 404,
  // a matching route whose backend has no server a 503 (short JSON bodies).
  std::vector<HttpRoute> routes;
  // kHttp only: https endpoints whose spec asks for it (`redirect_http: true`,
  // ours) answer here with a permanent redirect to https://<host><path>
  // (with ":<redirect_port>" unless it is 443), matched like routes (a real
  // route of the same host and path on this port wins). `backend` is empty.
  std::vector<HttpRoute> https_redirects;
  std::string tcp_backend;  // kTcp: a ProxyBackend's name
  bool operator==(const Listener&) const = default;
};

// A public udp endpoint: datagrams to the node's `port` go to a ready replica's
// target_port (nftables DNAT, the service rules' machinery).
struct UdpForward {
  uint16_t port = 0;
  uint16_t target_port = 0;
  std::string deployment;
  std::string service;
  std::string endpoint;
  std::vector<std::string> backends;  // ready replicas' addresses, sorted
  bool operator==(const UdpForward&) const = default;
};

struct ProxyState {
  std::vector<Listener> listeners;    // sorted by port; at most one per port
  std::vector<ProxyBackend> backends;  // sorted by name
  std::vector<UdpForward> udp;         // sorted by port
  bool operator==(const ProxyState&) const = default;
};

}  // namespace zlayer::agent::ingress
