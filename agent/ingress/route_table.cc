#include "agent/ingress/route_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

namespace zlayer::agent::ingress {
namespace {

using spec::Protocol;

// How a claim uses its port. Udp ports are a namespace of their own.
enum class PortUse { kHttp, kHttps, kTcp, kUdp };

std::string_view UseName(PortUse use) {
  switch (use) {
    case PortUse::kHttp:
      return "plain HTTP";
    case PortUse::kHttps:
      return "HTTPS (TLS)";
    case PortUse::kTcp:
      return "tcp";
    case PortUse::kUdp:
      return "udp";
  }
  return "?";
}

// What one public endpoint (or its redirect) takes on the node.
struct Claim {
  const spec::Deployment* deployment = nullptr;
  const spec::Service* service = nullptr;
  const spec::Endpoint* endpoint = nullptr;
  PortUse use = PortUse::kHttp;
  uint16_t port = 0;
  std::string host;  // normalised, "" = any
  std::string path;  // normalised
  bool redirect = false;
};

constexpr uint16_t kRedirectPort = 80;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string NormalHost(const std::optional<std::string>& host) {
  if (!host || *host == "*") return "";
  std::string out;
  out.reserve(host->size());
  for (char c : *host) out.push_back(Lower(c));
  return out;
}

std::string NormalPath(const std::optional<std::string>& path) {
  if (!path || path->empty()) return "/";
  std::string out = *path;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

bool IsRouted(Protocol protocol) {
  return protocol == Protocol::kHttp || protocol == Protocol::kHttps ||
         protocol == Protocol::kWebsocket;
}

PortUse UseOf(Protocol protocol) {
  switch (protocol) {
    case Protocol::kHttp:
    case Protocol::kWebsocket:
      return PortUse::kHttp;
    case Protocol::kHttps:
      return PortUse::kHttps;
    case Protocol::kTcp:
      return PortUse::kTcp;
    case Protocol::kUdp:
      return PortUse::kUdp;
  }
  return PortUse::kTcp;
}

// The endpoint's own claim, then its redirect's (if any). Services in name
// order, endpoints in spec order.
std::vector<Claim> ClaimsOf(const spec::Deployment& deployment) {
  std::vector<Claim> claims;
  for (const auto& [name, service] : deployment.services) {
    for (const spec::Endpoint& endpoint : service.endpoints) {
      if (endpoint.expose != spec::Exposure::kPublic) continue;
      Claim claim;
      claim.deployment = &deployment;
      claim.service = &service;
      claim.endpoint = &endpoint;
      claim.use = UseOf(endpoint.protocol);
      claim.port = endpoint.port;
      if (IsRouted(endpoint.protocol)) {
        claim.host = NormalHost(endpoint.host);
        claim.path = NormalPath(endpoint.path);
      }
      claims.push_back(claim);
      if (endpoint.protocol == Protocol::kHttps && endpoint.redirect_http) {
        claim.use = PortUse::kHttp;
        claim.port = kRedirectPort;
        claim.redirect = true;
        claims.push_back(std::move(claim));
      }
    }
  }
  return claims;
}

std::string Where(const Claim& claim) {
  if (claim.use == PortUse::kTcp || claim.use == PortUse::kUdp) {
    return fmt::format("{} port {}", UseName(claim.use), claim.port);
  }
  return fmt::format("port {} {} path {}", claim.port,
                     claim.host.empty() ? std::string("any host") : "host " + claim.host,
                     claim.path);
}

std::string Owner(const Claim& claim) {
  return fmt::format("service {}, endpoint {}{}", claim.service->name, claim.endpoint->name,
                     claim.redirect ? "'s redirect_http" : "");
}

// Why `a` and `b` cannot both be served, or nullopt when they can. The
// sentence reads "<incoming's claim> ... <the other's>".
std::optional<std::string> Clash(const Claim& a, const Claim& b) {
  if (a.port != b.port) return std::nullopt;
  if ((a.use == PortUse::kUdp) != (b.use == PortUse::kUdp)) return std::nullopt;
  if (a.use == PortUse::kUdp || (a.use == PortUse::kTcp && b.use == PortUse::kTcp)) {
    return fmt::format("{} is claimed twice", Where(a));
  }
  if (a.use != b.use) {
    return fmt::format("port {} is wanted as {} by {} but used as {}", a.port, UseName(a.use),
                       Owner(a), UseName(b.use));
  }
  if (a.host != b.host || a.path != b.path) return std::nullopt;
  if (a.redirect != b.redirect) return std::nullopt;  // the real route wins
  return fmt::format("{} is routed twice", Where(a));
}

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

Status ValidateRoute(const Claim& claim) {
  if (claim.use != PortUse::kHttp && claim.use != PortUse::kHttps) return Status::Ok();
  std::string_view host = claim.host;
  if (host.starts_with("*.")) host.remove_prefix(2);
  bool host_ok =
      claim.host.empty() || (!host.empty() && host.front() != '.' && host.back() != '.' &&
                             host.find("..") == std::string_view::npos &&
                             std::all_of(host.begin(), host.end(), IsHostChar));
  if (!host_ok) {
    return InvalidArgumentError(
        fmt::format("service {}, endpoint {}: host \"{}\" is not a host name or *.<host name>",
                    claim.service->name, claim.endpoint->name, *claim.endpoint->host));
  }
  bool path_ok =
      claim.path.starts_with('/') && std::none_of(claim.path.begin(), claim.path.end(), [](char c) {
        return static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
      });
  if (!path_ok) {
    return InvalidArgumentError(fmt::format(
        "service {}, endpoint {}: path \"{}\" must start with '/' and hold no whitespace or "
        "control characters",
        claim.service->name, claim.endpoint->name, claim.path));
  }
  return Status::Ok();
}

uint32_t Fnv1a(std::initializer_list<std::string_view> parts) {
  uint32_t hash = 2166136261u;
  for (std::string_view part : parts) {
    for (char c : part) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 16777619u;
    }
    hash ^= 0xff;  // a separator no name holds, so ("ab","c") != ("a","bc")
    hash *= 16777619u;
  }
  return hash;
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// Appends `part` with '_' for the characters HAProxy names cannot hold (and
// for '_' in deployment and service names, which would make names ambiguous).
bool AppendSafe(std::string_view part, bool allow_underscore, std::string* out) {
  bool changed = false;
  for (char c : part) {
    if (IsNameChar(c) && (allow_underscore || c != '_')) {
      out->push_back(c);
    } else {
      out->push_back('_');
      changed = true;
    }
  }
  return changed;
}

}  // namespace

std::string BackendName(std::string_view deployment, std::string_view service,
                        std::string_view endpoint) {
  std::string name = "b_";
  bool changed = AppendSafe(deployment, false, &name);
  name.push_back('_');
  changed |= AppendSafe(service, false, &name);
  name.push_back('_');
  changed |= AppendSafe(endpoint, true, &name);
  if (changed) name += fmt::format("_{:08x}", Fnv1a({deployment, service, endpoint}));
  return name;
}

ProxyState BuildProxyState(const std::vector<spec::Deployment>& deployments,
                           const std::vector<IngressReplica>& replicas,
                           std::vector<std::string>* notes) {
  auto note = [notes](std::string text) {
    if (notes != nullptr) notes->push_back(std::move(text));
  };
  std::vector<const spec::Deployment*> ordered;
  for (const spec::Deployment& deployment : deployments) ordered.push_back(&deployment);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto* a, const auto* b) { return a->name < b->name; });

  // Endpoints first, redirects after them: a redirect never displaces an endpoint.
  std::vector<Claim> primaries;
  std::vector<Claim> redirects;
  for (const spec::Deployment* deployment : ordered) {
    for (Claim& claim : ClaimsOf(*deployment)) {
      if (claim.service->network_mode == spec::NetworkMode::kHost) {
        if (!claim.redirect) {
          note(
              fmt::format("deployment {}, service {}, endpoint {}: network_mode host has no "
                          "replica address to proxy to; not served by the ingress",
                          deployment->name, claim.service->name, claim.endpoint->name));
        }
        continue;
      }
      (claim.redirect ? redirects : primaries).push_back(std::move(claim));
    }
  }
  std::vector<Claim> accepted;
  std::vector<const spec::Endpoint*> rejected;
  auto admit = [&](Claim claim) {
    if (std::find(rejected.begin(), rejected.end(), claim.endpoint) != rejected.end()) return;
    if (!ValidateRoute(claim).ok()) {
      note(fmt::format("deployment {}, {}: unusable host or path; left out", claim.deployment->name,
                       Owner(claim)));
      rejected.push_back(claim.endpoint);
      return;
    }
    for (const Claim& earlier : accepted) {
      if (auto why = Clash(claim, earlier)) {
        note(fmt::format("deployment {}, {}: {} (deployment {}, {}); left out",
                         claim.deployment->name, Owner(claim), *why, earlier.deployment->name,
                         Owner(earlier)));
        rejected.push_back(claim.endpoint);
        return;
      }
    }
    accepted.push_back(std::move(claim));
  };
  for (Claim& claim : primaries) admit(std::move(claim));
  for (Claim& claim : redirects) admit(std::move(claim));

  std::map<std::pair<std::string, std::string>, std::vector<const IngressReplica*>> ready;
  for (const IngressReplica& replica : replicas) {
    if (replica.ready && !replica.address.empty()) {
      ready[{replica.deployment, replica.service}].push_back(&replica);
    }
  }
  auto servers_of = [&](const Claim& claim) {
    std::vector<const IngressReplica*> found;
    auto it = ready.find({claim.deployment->name, claim.service->name});
    if (it != ready.end()) found = it->second;
    return found;
  };
  auto target_port = [](const spec::Endpoint& endpoint) {
    return endpoint.target_port != 0 ? endpoint.target_port : endpoint.port;
  };

  ProxyState state;
  std::map<uint16_t, Listener> listeners;
  for (const Claim& claim : accepted) {
    const spec::Endpoint& endpoint = *claim.endpoint;
    if (claim.use == PortUse::kUdp) {
      UdpForward forward;
      forward.port = claim.port;
      forward.target_port = target_port(endpoint);
      forward.deployment = claim.deployment->name;
      forward.service = claim.service->name;
      forward.endpoint = endpoint.name;
      for (const IngressReplica* replica : servers_of(claim)) {
        forward.backends.push_back(replica->address);
      }
      std::sort(forward.backends.begin(), forward.backends.end());
      state.udp.push_back(std::move(forward));
      continue;
    }
    Listener& listener = listeners[claim.port];
    listener.port = claim.port;
    std::string backend_name =
        BackendName(claim.deployment->name, claim.service->name, endpoint.name);
    HttpRoute route;
    route.host = claim.host;
    route.path = claim.path;
    route.deployment = claim.deployment->name;
    route.service = claim.service->name;
    route.endpoint = endpoint.name;
    if (claim.redirect) {
      listener.kind = ListenerKind::kHttp;
      route.redirect_port = endpoint.port;
      listener.https_redirects.push_back(std::move(route));
      continue;
    }
    ProxyBackend backend;
    backend.name = backend_name;
    backend.mode = claim.use == PortUse::kTcp ? BackendMode::kTcp : BackendMode::kHttp;
    backend.deployment = claim.deployment->name;
    backend.service = claim.service->name;
    backend.endpoint = endpoint.name;
    for (const IngressReplica* replica : servers_of(claim)) {
      backend.servers.push_back({replica->id, replica->address, target_port(endpoint)});
    }
    std::sort(backend.servers.begin(), backend.servers.end(),
              [](const ProxyServer& a, const ProxyServer& b) { return a.name < b.name; });
    state.backends.push_back(std::move(backend));
    if (claim.use == PortUse::kTcp) {
      listener.kind = ListenerKind::kTcp;
      listener.tcp_backend = backend_name;
    } else {
      listener.kind = claim.use == PortUse::kHttps ? ListenerKind::kHttps : ListenerKind::kHttp;
      route.backend = backend_name;
      listener.routes.push_back(std::move(route));
    }
  }

  auto by_host_path = [](const HttpRoute& a, const HttpRoute& b) {
    return std::tie(a.host, a.path, a.backend, a.deployment, a.service, a.endpoint) <
           std::tie(b.host, b.path, b.backend, b.deployment, b.service, b.endpoint);
  };
  for (auto& [port, listener] : listeners) {
    std::sort(listener.routes.begin(), listener.routes.end(), by_host_path);
    std::sort(listener.https_redirects.begin(), listener.https_redirects.end(), by_host_path);
    state.listeners.push_back(std::move(listener));
  }
  std::sort(state.backends.begin(), state.backends.end(),
            [](const ProxyBackend& a, const ProxyBackend& b) { return a.name < b.name; });
  std::stable_sort(state.udp.begin(), state.udp.end(),
                   [](const UdpForward& a, const UdpForward& b) { return a.port < b.port; });
  return state;
}

Status CheckRouteConflicts(const spec::Deployment& incoming,
                           const std::vector<spec::Deployment>& others) {
  std::vector<Claim> mine = ClaimsOf(incoming);
  for (const Claim& claim : mine) {
    if (Status status = ValidateRoute(claim); !status.ok()) return status;
  }
  for (size_t i = 0; i < mine.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (auto why = Clash(mine[i], mine[j])) {
        return InvalidArgumentError(fmt::format("deployment {}: {} by {} and by {}", incoming.name,
                                                *why, Owner(mine[j]), Owner(mine[i])));
      }
    }
  }
  for (const spec::Deployment& other : others) {
    if (other.name == incoming.name) continue;
    std::vector<Claim> theirs = ClaimsOf(other);
    for (const Claim& claim : mine) {
      for (const Claim& existing : theirs) {
        if (auto why = Clash(claim, existing)) {
          return AlreadyExistsError(fmt::format("{}: deployment {} already has it ({})", *why,
                                                other.name, Owner(existing)));
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace zlayer::agent::ingress
