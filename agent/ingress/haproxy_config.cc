#include "agent/ingress/haproxy_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace zlayer::agent::ingress {
namespace {

constexpr const char* kNotFound =
    R"(http-request return status 404 content-type application/json string '{"error":"no route","status":404}')";
// HAProxy's own 503 (no usable server), with our body. Not `nbsrv eq 0`: an
// old worker finishing its connections after a reload sees its stopped
// backends without servers and would answer 503 to requests it can serve.
constexpr const char* kUnavailable =
    R"(http-error status 503 content-type application/json string '{"error":"no ready replica","status":503}')";

std::string Bind(const HaproxySettings& settings, uint16_t port) {
  return fmt::format("{}:{}", settings.bind_address, port);
}

// "<vhost><path>/", with "/" staying "/".
std::string RouteKey(const std::string& vhost, const std::string& path) {
  return path == "/" ? vhost + "/" : vhost + path + "/";
}

std::string RedirectValue(uint16_t https_port) {
  return https_port == 443 ? std::string("@redirect") : fmt::format("@redirect:{}", https_port);
}

// Lines "key value", longest key first, then by key: map_beg and map_end
// then see the most specific key first whatever their lookup structure.
std::string MapText(std::vector<std::pair<std::string, std::string>> entries) {
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    if (a.first.size() != b.first.size()) return a.first.size() > b.first.size();
    return a < b;
  });
  std::string text;
  for (const auto& [key, value] : entries) text += fmt::format("{} {}\n", key, value);
  return text;
}

void RenderHttpFrontend(const Listener& listener, const HaproxySettings& settings,
                        RenderedHaproxy* out) {
  bool tls = listener.kind == ListenerKind::kHttps;
  std::string routes_map = RoutesMapFile(listener.port);
  std::string wildcards_map = WildcardsMapFile(listener.port);
  std::string routes_path = settings.paths.maps_dir + "/" + routes_map;
  std::string wildcards_path = settings.paths.maps_dir + "/" + wildcards_map;

  std::vector<std::pair<std::string, std::string>> routes;
  std::vector<std::pair<std::string, std::string>> wildcards;
  auto add_wildcard = [&](const std::string& host) {
    if (!host.starts_with("*.")) return;
    std::pair<std::string, std::string> entry{host.substr(1), host};
    if (std::find(wildcards.begin(), wildcards.end(), entry) == wildcards.end()) {
      wildcards.push_back(std::move(entry));
    }
  };
  for (const HttpRoute& route : listener.routes) {
    routes.emplace_back(RouteKey(route.host, route.path), route.backend);
    add_wildcard(route.host);
  }
  for (const HttpRoute& redirect : listener.https_redirects) {
    std::string key = RouteKey(redirect.host, redirect.path);
    bool taken = std::any_of(routes.begin(), routes.end(),
                             [&](const auto& entry) { return entry.first == key; });
    if (taken) continue;
    routes.emplace_back(std::move(key), RedirectValue(redirect.redirect_port));
    add_wildcard(redirect.host);
  }
  out->maps[routes_map] = MapText(std::move(routes));
  out->maps[wildcards_map] = MapText(std::move(wildcards));

  std::string& c = out->config;
  c += fmt::format("frontend {}_{}\n", tls ? "https" : "http", listener.port);
  c += "    mode http\n";
  if (tls) {
    c += fmt::format("    bind {} ssl crt-list {} alpn h2,http/1.1\n",
                     Bind(settings, listener.port), settings.paths.crt_list);
  } else {
    c += fmt::format("    bind {}\n", Bind(settings, listener.port));
  }
  c += "    option idle-close-on-response\n";
  // One X-Forwarded-For line, the client's address appended to what it sent
  // (option forwardfor would add a second line, which many servers, busybox
  // httpd's CGI among them, read as replacing the first).
  c += "    http-request set-header X-Forwarded-For \"%[req.fhdr(x-forwarded-for)], %[src]\" if "
       "{ req.fhdr(x-forwarded-for) -m found }\n";
  c +=
      "    http-request set-header X-Forwarded-For %[src] if !{ req.fhdr(x-forwarded-for) -m found "
      "}\n";
  c += fmt::format("    http-request set-header X-Forwarded-Proto {}\n", tls ? "https" : "http");
  c += "    http-request del-header X-Forwarded-Host\n";
  c += "    http-request set-header X-Forwarded-Host %[req.hdr(host)] if { req.hdr(host) -m found "
       "}\n";
  c += "    http-request set-header X-Real-IP %[src]\n";
  c += "    http-request set-var(txn.zl_host) req.hdr(host),host_only,lower\n";
  c += "    http-request set-var(txn.zl_path) path\n";
  if (!tls && listener.port == kAcmeChallengePort && !settings.acme_challenge_address.empty()) {
    c += "    # 0. ACME HTTP-01 challenges, before any route or redirect\n";
    c += fmt::format(
        "    http-request set-var(txn.zl_route) str({}) if {{ path_beg "
        "/.well-known/acme-challenge/ "
        "}}\n",
        kAcmeChallengeBackend);
  }
  c += "    # 1. the exact host\n";
  c += "    http-request set-var(txn.zl_key) var(txn.zl_host),concat(,txn.zl_path,/)\n";
  c += fmt::format(
      "    http-request set-var(txn.zl_route) var(txn.zl_key),map_beg({}) "
      "if !{{ var(txn.zl_route) -m found }}\n",
      routes_path);
  c += "    # 2. the most specific wildcard of the host\n";
  c += fmt::format(
      "    http-request set-var(txn.zl_wild) var(txn.zl_host),map_end({}) "
      "if !{{ var(txn.zl_route) -m found }}\n",
      wildcards_path);
  c += "    http-request set-var(txn.zl_key) var(txn.zl_wild),concat(,txn.zl_path,/) "
       "if !{ var(txn.zl_route) -m found } { var(txn.zl_wild) -m found }\n";
  c += fmt::format(
      "    http-request set-var(txn.zl_route) var(txn.zl_key),map_beg({}) "
      "if !{{ var(txn.zl_route) -m found }} {{ var(txn.zl_wild) -m found }}\n",
      routes_path);
  c += "    # 3. any host\n";
  c += "    http-request set-var(txn.zl_key) var(txn.zl_path),concat(,,/) "
       "if !{ var(txn.zl_route) -m found }\n";
  c += fmt::format(
      "    http-request set-var(txn.zl_route) var(txn.zl_key),map_beg({}) "
      "if !{{ var(txn.zl_route) -m found }}\n",
      routes_path);
  c += "    http-request redirect code 308 location "
       "https://%[var(txn.zl_host)]%[var(txn.zl_route),regsub(^@redirect,)]%[pathq] "
       "if { var(txn.zl_route) -m beg @redirect }\n";
  c += fmt::format("    {} if !{{ var(txn.zl_route) -m found }}\n", kNotFound);
  c += "    use_backend %[var(txn.zl_route)]\n\n";
}

void RenderTcpFrontend(const Listener& listener, const HaproxySettings& settings, std::string* c) {
  *c += fmt::format("frontend tcp_{}\n", listener.port);
  *c += "    mode tcp\n";
  *c += fmt::format("    bind {}\n", Bind(settings, listener.port));
  *c += fmt::format("    default_backend {}\n\n", listener.tcp_backend);
}

void RenderBackend(const ProxyBackend& backend, std::string* c) {
  bool http = backend.mode == BackendMode::kHttp;
  *c += fmt::format("backend {}\n", backend.name);
  *c += fmt::format("    # deployment {}, service {}, endpoint {}\n", backend.deployment,
                    backend.service, backend.endpoint);
  *c += fmt::format("    mode {}\n", http ? "http" : "tcp");
  *c += "    balance roundrobin\n";
  if (http) *c += fmt::format("    {}\n", kUnavailable);
  for (const ProxyServer& server : backend.servers) {
    *c += fmt::format("    server {} {}:{} pool-max-conn -1 pool-purge-delay 5s\n", server.name,
                      server.address, server.port);
  }
  *c += "\n";
}

}  // namespace

std::string RoutesMapFile(uint16_t port) { return fmt::format("routes-{}.map", port); }
std::string WildcardsMapFile(uint16_t port) { return fmt::format("wildcards-{}.map", port); }

RenderedHaproxy RenderHaproxy(const ProxyState& state, const HaproxySettings& settings) {
  RenderedHaproxy out;
  std::string& c = out.config;
  c += "# Written by zlayer-agent from the deployments' public endpoints; do not edit.\n";
  c += "global\n";
  c += fmt::format("    stats socket {} mode 600 level admin expose-fd listeners\n",
                   settings.paths.admin_socket);
  c += "    hard-stop-after 30s\n";
  c += "    ssl-default-bind-options ssl-min-ver TLSv1.2\n";
  c += "\n";
  c += "defaults\n";
  c += "    mode http\n";
  c += "    timeout connect 5s\n";
  c += "    timeout client 60s\n";
  c += "    timeout server 60s\n";
  c += "    timeout http-request 10s\n";
  c += "    timeout http-keep-alive 10s\n";
  c += "    timeout tunnel 1h\n";
  c += "\n";
  for (const Listener& listener : state.listeners) {
    if (listener.kind == ListenerKind::kTcp) {
      RenderTcpFrontend(listener, settings, &c);
    } else {
      RenderHttpFrontend(listener, settings, &out);
    }
  }
  for (const ProxyBackend& backend : state.backends) RenderBackend(backend, &c);
  const bool acme_listener =
      std::any_of(state.listeners.begin(), state.listeners.end(), [](const Listener& listener) {
        return listener.kind == ListenerKind::kHttp && listener.port == kAcmeChallengePort;
      });
  if (acme_listener && !settings.acme_challenge_address.empty()) {
    c += fmt::format("backend {}\n", kAcmeChallengeBackend);
    c += "    # the node's ACME client while it asks for a certificate\n";
    c += "    mode http\n";
    c += fmt::format("    server acme {}\n\n", settings.acme_challenge_address);
  }
  return out;
}

}  // namespace zlayer::agent::ingress
