// Renders a ProxyState as HAProxy 2.6's configuration file plus the routing
// maps it names (issue 13; ../shared/reference/proxy-notes.md). Pure and
// deterministic: the same state and settings give the same bytes, so the
// caller can compare before writing and reload only on a real change.
//
// The configuration:
//   - global: the runtime API on paths.admin_socket (`level admin
//     expose-fd listeners`, for live server changes and seamless reloads),
//     `hard-stop-after 30s`, TLS 1.2 at least;
//   - defaults: mode http, timeouts connect 5s, client/server 60s,
//     http-request 10s, http-keep-alive 10s, tunnel 1h (WebSocket and tcp);
//   - one frontend per listener, bound on settings.bind_address:<port>, or on
//     every IPv4 address (":<port>") when it is "":
//       http_<port> (kHttp), https_<port> (kHttps: `ssl crt-list
//       <paths.crt_list> alpn h2,http/1.1`, the crt-list is written by the
//       certificates module), tcp_<port> (kTcp, straight to its backend);
//     HTTP frontends have `option idle-close-on-response` (an old worker
//     closes idle keep-alive connections only after their next response, so
//     reloads fail no request; HTTP mode only, hence not in defaults);
//   - one backend per ProxyBackend: `balance roundrobin` (which runtime-added
//     servers need), no health checks (the agent decides readiness), a server
//     per ProxyServer `server <name> <address>:<port> pool-max-conn -1
//     pool-purge-delay 5s` (the line the runtime API's `add server` takes
//     too); HTTP backends answer 503 with a JSON body when no server is usable
//     (HAProxy's own 503, with an `http-error` body).
//
// HTTP routing, per HTTP(S) listener, through two maps under paths.maps_dir
// (RoutesMapFile, WildcardsMapFile), which the runtime API can replace whole
// (prepare/add/commit map) without a reload:
//   - host = the Host header without its port, lower case ("" when absent);
//   - routes-<port>.map: key "<vhost><path>/" (path "/" gives "<vhost>/"),
//     vhost being the exact host, the wildcard ("*.example.com") or "" (any
//     host); value the backend name, or for an https redirect "@redirect"
//     plus ":<port>" unless the port is 443. Looked up with map_beg on
//     "<vhost><request path>/", which gives the longest matching key
//     (checked on 2.6.12: independent of the file's order; the file is still
//     written longest key first). Since a host never holds '/', "/api/" only
//     matches "/api" and "/api/..." of the same vhost;
//   - wildcards-<port>.map: key ".example.com", value "*.example.com",
//     looked up with map_end on the host. map_end takes the FIRST matching
//     line, so the file is written longest suffix first (most specific wins);
//     keep that order when loading it through the runtime API;
//   - the lookups, in order: the exact host; if no route matched, the most
//     specific wildcard of the host; if still none, any host. A more specific
//     host thus hides a less specific one only for the paths it routes
//     (exact "a.example.com /api" does not hide "*.example.com /" for
//     "/other"). Among wildcards only the most specific one is tried;
//   - an https redirect of the same host and path as a route is left out
//     (the route wins);
//   - no matching key: 404 with {"error":"no route","status":404};
//   - before all of these, on port 80 with ACME on, the challenge path (see
//     HaproxySettings::acme_challenge_address).
// Requests get X-Forwarded-For appended (one line: "<sent>, <client>"),
// X-Forwarded-Proto (http or https), X-Forwarded-Host (the request's Host)
// and X-Real-IP (the client's address), replacing what the client sent.
// WebSocket upgrades pass through (HTTP mode handles them); HTTP/2 is offered
// by ALPN on TLS listeners; the path is passed unchanged.
//
// UdpForwards are not HAProxy's (nftables forwards them) and are ignored.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "agent/ingress/proxy_model.h"
#include "common/config.h"

namespace zlayer::agent::ingress {

struct HaproxySettings {
  IngressPaths paths;
  std::string bind_address;  // an IPv4 address; "" = every address
  // The ACME client's HTTP-01 responder ("address:port"), or "" when ACME is
  // off. When set, the HTTP listener on port 80 sends every request under
  // /.well-known/acme-challenge/ there, before any route or redirect (backend
  // kAcmeChallengeBackend; a 503 while no client is listening).
  std::string acme_challenge_address;
};

inline constexpr const char* kAcmeChallengeBackend = "acme_challenge";
inline constexpr uint16_t kAcmeChallengePort = 80;  // HTTP-01 always asks port 80

struct RenderedHaproxy {
  std::string config;  // for paths.config_file
  // The maps' contents by file name (no directory) under paths.maps_dir; every
  // map the configuration names is here, empty ones included (HAProxy refuses
  // to start on a missing map file).
  std::map<std::string, std::string> maps;
};

// "routes-<port>.map" and "wildcards-<port>.map": the maps of an HTTP(S)
// listener, under paths.maps_dir.
std::string RoutesMapFile(uint16_t port);
std::string WildcardsMapFile(uint16_t port);

// Deterministic. Names are used as given: backend names come from
// BackendName, server names are replica ids ([a-z0-9-]).
RenderedHaproxy RenderHaproxy(const ProxyState& state, const HaproxySettings& settings);

}  // namespace zlayer::agent::ingress
