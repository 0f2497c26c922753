// The node's ingress as a pure function of the desired deployments and the
// replicas the agent knows (issue 13): which listeners the public endpoints
// make, their HTTP routes, the backends with the ready replicas behind them,
// and the udp forwards. No I/O; haproxy_config.h renders the result.
//
// Normalisation (the spec parser keeps what the user wrote):
//   - host: lower case; "" or "*" is any host; "*.example.com" a wildcard;
//   - path: "/" when absent or empty, trailing '/' removed except for "/";
//   - target_port: the endpoint's port when 0 (hand-built values).
//
// Which deployments may share what is CheckRouteConflicts' rule; a deploy is
// refused before its spec reaches BuildProxyState. Should conflicting claims
// reach it anyway (a spec stored before the rule existed), the first claim in
// the order (deployment name, service name, endpoint order) wins and the others
// are left out with a note, so the result stays deterministic.
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/ingress/proxy_model.h"
#include "agent/spec/model.h"
#include "common/status.h"

namespace zlayer::agent::ingress {

// A replica as the ingress needs it: where it runs and whether it may receive
// traffic. Only ready replicas with an address become servers.
struct IngressReplica {
  std::string id;  // the container id, "shop-web-0"
  std::string deployment;
  std::string service;
  std::string address;  // IPv4 on the deployment's network; "" when none (yet)
  bool ready = false;
};

// "b_<deployment>_<service>_<endpoint>", usable as an HAProxy proxy name.
// Every character outside [A-Za-z0-9_.-] of each part becomes '_' (deployment
// and service names are [a-z0-9-] when parsed, endpoint names are free text),
// and a name changed that way gets "_<8 hex digits>" of a hash of the three
// original parts, so that two endpoints never share a backend name. Since
// deployment and service names hold no '_', the name is also unambiguous.
std::string BackendName(std::string_view deployment, std::string_view service,
                        std::string_view endpoint);

// The ingress for `deployments` and `replicas`:
//   - every `expose: public` endpoint of every service makes (or joins) the
//     listener of its port: http and websocket -> kHttp, https -> kHttps,
//     tcp -> kTcp; udp endpoints make UdpForwards instead;
//   - each non-udp endpoint has a ProxyBackend (BackendName), mode kTcp for tcp,
//     whose servers are the service's replicas with ready && !address.empty(),
//     named by replica id, on the endpoint's target_port, sorted by name;
//   - an https endpoint with redirect_http adds an HttpRoute (backend "",
//     redirect_port = its port) to the https_redirects of port 80's kHttp
//     listener, which is created when no endpoint has it (unless port 80 is a
//     kHttps or kTcp listener: then the redirect is left out with a note);
//   - services with network_mode host have no address per replica: their
//     endpoints cannot be proxied and are left out, with a note.
// Sorted: listeners by port; routes and redirects by (host, path); backends by
// name; udp forwards by port, their backends by address. `notes`, when given,
// receives one human sentence per endpoint left out.
ProxyState BuildProxyState(const std::vector<spec::Deployment>& deployments,
                           const std::vector<IngressReplica>& replicas,
                           std::vector<std::string>* notes = nullptr);

// Whether `incoming` may be deployed beside `others` (a deployment of
// `others` with incoming's name is its previous version and is ignored).
// Claims are those of public endpoints, every network mode included:
//   - an http/websocket endpoint claims (port, host, path) as plain HTTP, an
//     https endpoint as TLS; redirect_http also claims (80, host, path) as
//     plain HTTP, where a real route of the same host and path is no conflict;
//   - a tcp endpoint claims its tcp port, a udp endpoint its udp port.
// Returns
//   - kInvalidArgument when `incoming` contradicts itself: two claims of the
//     same port+host+path, a port both HTTP and TLS, HTTP or TLS and tcp, a tcp
//     or udp port twice, or a host or path a route cannot hold (a host other
//     than [A-Za-z0-9.-] labels with an optional leading "*.", a path not
//     starting with '/' or holding whitespace or control characters);
//   - kAlreadyExists when a deployment of `others` already claims the same
//     port+host+path, the same tcp or udp port, or uses a port as plain HTTP
//     where `incoming` wants TLS or tcp (or the reverse); the message names
//     that deployment, the port and the host and path;
//   - OK otherwise.
Status CheckRouteConflicts(const spec::Deployment& incoming,
                           const std::vector<spec::Deployment>& others);

}  // namespace zlayer::agent::ingress
