// Node::Routes: the ingress's listeners and routes (agent/ingress/route_table.h)
// derived from the accepted specs and the reconciler's view, the same way the
// ingress controller derives what it gives HAProxy; Node::Certificates, from the
// catalog the daemon gives the node.
#include <algorithm>
#include <map>

#include "agent/ingress/route_table.h"
#include "agent/node/node.h"

namespace zlayer::agent::node {
namespace {

const char* KindName(ingress::ListenerKind kind) {
  switch (kind) {
    case ingress::ListenerKind::kHttp:
      return "http";
    case ingress::ListenerKind::kHttps:
      return "https";
    case ingress::ListenerKind::kTcp:
      return "tcp";
  }
  return "tcp";
}

uint16_t TargetPort(const std::vector<spec::Deployment>& specs, const RouteView& route) {
  for (const spec::Deployment& d : specs) {
    if (d.name != route.deployment) continue;
    auto s = d.services.find(route.service);
    if (s == d.services.end()) continue;
    for (const spec::Endpoint& e : s->second.endpoints) {
      if (e.name == route.endpoint) return e.target_port;
    }
  }
  return 0;
}

// Exact hosts first, then wildcards (longer first), then any host; then the
// longest path: the order the ingress tries them in.
int HostRank(const std::string& host) {
  if (host.empty()) return 2;
  return host.starts_with("*.") ? 1 : 0;
}
bool MoreSpecific(const RouteView& a, const RouteView& b) {
  if (HostRank(a.host) != HostRank(b.host)) return HostRank(a.host) < HostRank(b.host);
  if (a.host.size() != b.host.size()) return a.host.size() > b.host.size();
  if (a.host != b.host) return a.host < b.host;
  if (a.path.size() != b.path.size()) return a.path.size() > b.path.size();
  return a.path < b.path;
}

// The certificate the ingress serves an https route: the catalog's entry for its exact
// host (the default's for a route without host); nothing when the catalog has none.
void FillCertificate(RouteView& route, const std::vector<CertificateView>& certificates) {
  for (const CertificateView& c : certificates) {
    if (c.host != route.host) continue;
    route.certificate = c.source;
    if (c.source == "user" || c.source == "acme") return;
    route.certificate_note =
        c.acme.has_value() && !c.acme->last_error.empty() ? c.acme->last_error : c.note;
    return;
  }
}

}  // namespace

std::vector<CertificateView> Node::Certificates() const {
  if (parts_.certificates == nullptr) return {};
  return parts_.certificates->Certificates();
}

std::vector<ListenerView> Node::Routes() const {
  std::vector<spec::Deployment> specs;
  for (const auto& [name, accepted] : accepted_) {
    if (accepted.spec) specs.push_back(*accepted.spec);
  }
  std::vector<reconcile::DeploymentView> views = Deployments();
  std::vector<ingress::IngressReplica> replicas;
  for (const reconcile::DeploymentView& d : views) {
    for (const reconcile::ReplicaView& r : d.replicas) {
      replicas.push_back({r.id, d.name, r.service, r.address, r.ready});
    }
  }
  const ingress::ProxyState state = ingress::BuildProxyState(specs, replicas);

  auto fill = [&](RouteView& route, const std::string& backend_name) {
    for (const ingress::ProxyBackend& b : state.backends) {
      if (b.name != backend_name) continue;
      for (const ingress::ProxyServer& server : b.servers) route.in_rotation.insert(server.name);
    }
    for (const reconcile::DeploymentView& d : views) {
      if (d.name != route.deployment) continue;
      for (const reconcile::ReplicaView& r : d.replicas) {
        if (r.service == route.service) route.replicas.push_back(r);
      }
    }
    route.target_port = TargetPort(specs, route);
  };
  auto http_route = [&](const ingress::HttpRoute& h) {
    RouteView route;
    route.host = h.host;
    route.path = h.path;
    route.deployment = h.deployment;
    route.service = h.service;
    route.endpoint = h.endpoint;
    route.redirect_to_port = h.redirect_port;
    fill(route, h.backend);
    return route;
  };

  const std::vector<CertificateView> certificates = Certificates();
  std::map<uint16_t, ListenerView> listeners;
  for (const ingress::Listener& l : state.listeners) {
    ListenerView& view = listeners[l.port];
    view.port = l.port;
    view.kind = KindName(l.kind);
    for (const ingress::HttpRoute& h : l.routes) view.routes.push_back(http_route(h));
    for (const ingress::HttpRoute& h : l.https_redirects) view.routes.push_back(http_route(h));
    if (l.kind == ingress::ListenerKind::kTcp) {
      for (const ingress::ProxyBackend& b : state.backends) {
        if (b.name != l.tcp_backend) continue;
        RouteView route;
        route.deployment = b.deployment;
        route.service = b.service;
        route.endpoint = b.endpoint;
        fill(route, b.name);
        view.routes.push_back(std::move(route));
      }
    }
    if (l.kind == ingress::ListenerKind::kHttps) {
      for (RouteView& route : view.routes) FillCertificate(route, certificates);
    }
    std::sort(view.routes.begin(), view.routes.end(), MoreSpecific);
  }
  std::vector<ListenerView> out;
  for (auto& [port, view] : listeners) out.push_back(std::move(view));
  for (const ingress::UdpForward& u : state.udp) {
    ListenerView view;
    view.port = u.port;
    view.kind = "udp";
    RouteView route;
    route.deployment = u.deployment;
    route.service = u.service;
    route.endpoint = u.endpoint;
    fill(route, "");
    for (const reconcile::ReplicaView& r : route.replicas) {
      if (std::find(u.backends.begin(), u.backends.end(), r.address) != u.backends.end()) {
        route.in_rotation.insert(r.id);
      }
    }
    view.routes.push_back(std::move(route));
    out.push_back(std::move(view));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const ListenerView& a, const ListenerView& b) { return a.port < b.port; });
  return out;
}

}  // namespace zlayer::agent::node
