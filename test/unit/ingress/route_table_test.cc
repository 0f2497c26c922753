#include "agent/ingress/route_table.h"

#include <catch2/catch.hpp>

#include "test/unit/ingress/ingress_test_specs.h"

using zlayer::StatusCode;
using zlayer::agent::ingress::BackendMode;
using zlayer::agent::ingress::BackendName;
using zlayer::agent::ingress::BuildProxyState;
using zlayer::agent::ingress::CheckRouteConflicts;
using zlayer::agent::ingress::HttpRoute;
using zlayer::agent::ingress::IngressReplica;
using zlayer::agent::ingress::Listener;
using zlayer::agent::ingress::ListenerKind;
using zlayer::agent::ingress::ProxyServer;
using zlayer::agent::ingress::ProxyState;
using zlayer::agent::ingress::testing::Deployment;
using zlayer::agent::ingress::testing::Internal;
using zlayer::agent::ingress::testing::Public;
using zlayer::agent::ingress::testing::Redirecting;
using zlayer::spec::NetworkMode;
using zlayer::spec::Protocol;

namespace {

IngressReplica Ready(std::string id, std::string deployment, std::string service,
                     std::string address) {
  return {std::move(id), std::move(deployment), std::move(service), std::move(address), true};
}

const Listener& ListenerOn(const ProxyState& state, uint16_t port) {
  for (const Listener& listener : state.listeners) {
    if (listener.port == port) return listener;
  }
  FAIL("no listener on port " << port);
  throw;
}

std::vector<uint16_t> Ports(const ProxyState& state) {
  std::vector<uint16_t> ports;
  for (const Listener& listener : state.listeners) ports.push_back(listener.port);
  return ports;
}

}  // namespace

TEST_CASE("Backend names are b_<deployment>_<service>_<endpoint>, made safe and kept unique") {
  CHECK(BackendName("shop", "web", "http") == "b_shop_web_http");
  CHECK(BackendName("shop", "web", "main_api.v2-x") == "b_shop_web_main_api.v2-x");
  std::string spaced = BackendName("shop", "web", "my api");
  CHECK(spaced.starts_with("b_shop_web_my_api_"));
  CHECK(spaced.size() == std::string("b_shop_web_my_api_").size() + 8);
  CHECK(spaced == BackendName("shop", "web", "my api"));
  CHECK(BackendName("shop", "web", "my/api") != spaced);
  CHECK(BackendName("shop", "web", "my_api") != spaced);
  for (char c : BackendName("sh op", "w:b", "é#")) {
    CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'));
  }
}

TEST_CASE("Given public endpoints on several ports, each port is one listener of its kind") {
  auto shop = Deployment(
      "shop", {{"web",
                {Public("http", Protocol::kHttp, 80, "shop.example.com"),
                 Public("ws", Protocol::kWebsocket, 80, "shop.example.com", "/ws"),
                 Public("secure", Protocol::kHttps, 443, "shop.example.com", std::nullopt, 8443),
                 Internal(Public("metrics", Protocol::kHttp, 9100))}},
               {"db", {Public("pg", Protocol::kTcp, 5432)}},
               {"dns", {Public("dns", Protocol::kUdp, 53, std::nullopt, std::nullopt, 5353)}}});
  ProxyState state = BuildProxyState({shop}, {});

  CHECK(Ports(state) == std::vector<uint16_t>{80, 443, 5432});
  const Listener& http = ListenerOn(state, 80);
  CHECK(http.kind == ListenerKind::kHttp);
  REQUIRE(http.routes.size() == 2);
  CHECK(http.routes[0].path == "/");
  CHECK(http.routes[0].backend == "b_shop_web_http");
  CHECK(http.routes[1].path == "/ws");
  CHECK(http.routes[1].backend == "b_shop_web_ws");
  CHECK(ListenerOn(state, 443).kind == ListenerKind::kHttps);
  CHECK(ListenerOn(state, 443).routes.at(0).backend == "b_shop_web_secure");
  CHECK(ListenerOn(state, 5432).kind == ListenerKind::kTcp);
  CHECK(ListenerOn(state, 5432).tcp_backend == "b_shop_db_pg");
  CHECK(ListenerOn(state, 5432).routes.empty());

  REQUIRE(state.backends.size() == 4);  // no backend for the internal and udp endpoints
  CHECK(state.backends[0].name == "b_shop_db_pg");
  CHECK(state.backends[0].mode == BackendMode::kTcp);
  CHECK(state.backends[1].name == "b_shop_web_http");
  CHECK(state.backends[1].mode == BackendMode::kHttp);

  REQUIRE(state.udp.size() == 1);
  CHECK(state.udp[0].port == 53);
  CHECK(state.udp[0].target_port == 5353);
  CHECK(state.udp[0].service == "dns");
}

TEST_CASE("Only ready replicas with an address become servers, on the target port, by name") {
  auto shop = Deployment(
      "shop", {{"web", {Public("http", Protocol::kHttp, 80, std::nullopt, std::nullopt, 8080)}},
               {"dns", {Public("dns", Protocol::kUdp, 53)}}});
  std::vector<IngressReplica> replicas = {
      Ready("shop-web-2", "shop", "web", "10.200.0.4"),
      Ready("shop-web-0", "shop", "web", "10.200.0.2"),
      {"shop-web-1", "shop", "web", "10.200.0.3", /*ready=*/false},
      Ready("shop-web-3", "shop", "web", ""),
      Ready("other-web-0", "other", "web", "10.200.1.2"),
      Ready("shop-dns-1", "shop", "dns", "10.200.0.9"),
      Ready("shop-dns-0", "shop", "dns", "10.200.0.10"),
  };
  ProxyState state = BuildProxyState({shop}, replicas);
  REQUIRE(state.backends.size() == 1);
  CHECK(state.backends[0].servers == std::vector<ProxyServer>{{"shop-web-0", "10.200.0.2", 8080},
                                                              {"shop-web-2", "10.200.0.4", 8080}});
  REQUIRE(state.udp.size() == 1);
  CHECK(state.udp[0].backends == std::vector<std::string>{"10.200.0.10", "10.200.0.9"});
}

TEST_CASE("Hosts are lower-cased and paths lose their trailing slash; the order is stable") {
  auto a =
      Deployment("a", {{"web", {Public("http", Protocol::kHttp, 80, "API.Example.com", "/v1/")}}});
  auto b = Deployment("b", {{"web",
                             {Public("http", Protocol::kHttp, 80, "*", ""),
                              Public("api", Protocol::kHttp, 80, "*.example.com", "/")}}});
  ProxyState state = BuildProxyState({b, a}, {});
  const Listener& http = ListenerOn(state, 80);
  REQUIRE(http.routes.size() == 3);
  CHECK(http.routes[0].host == "");
  CHECK(http.routes[0].path == "/");
  CHECK(http.routes[1].host == "*.example.com");
  CHECK(http.routes[2].host == "api.example.com");
  CHECK(http.routes[2].path == "/v1");
  CHECK(http.routes[2].deployment == "a");
  CHECK(BuildProxyState({a, b}, {}) == state);
}

TEST_CASE("An https endpoint asking for it redirects from port 80, beside real routes there") {
  auto shop = Deployment(
      "shop", {{"web",
                {Redirecting(Public("secure", Protocol::kHttps, 443, "shop.example.com")),
                 Redirecting(Public("alt", Protocol::kHttps, 8443, "alt.example.com", "/x")),
                 Public("plain", Protocol::kHttps, 9443, "plain.example.com")}}});
  ProxyState state = BuildProxyState({shop}, {});
  CHECK(Ports(state) == std::vector<uint16_t>{80, 443, 8443, 9443});
  const Listener& http = ListenerOn(state, 80);
  CHECK(http.kind == ListenerKind::kHttp);
  CHECK(http.routes.empty());
  REQUIRE(http.https_redirects.size() == 2);
  CHECK(http.https_redirects[0].host == "alt.example.com");
  CHECK(http.https_redirects[0].path == "/x");
  CHECK(http.https_redirects[0].redirect_port == 8443);
  CHECK(http.https_redirects[0].backend.empty());
  CHECK(http.https_redirects[1].host == "shop.example.com");
  CHECK(http.https_redirects[1].redirect_port == 443);
}

TEST_CASE("A redirect never takes port 80 from a tcp endpoint; it is left out with a note") {
  auto shop = Deployment("shop", {{"web", {Redirecting(Public("s", Protocol::kHttps, 443))}}});
  auto raw = Deployment("raw", {{"tcp", {Public("t", Protocol::kTcp, 80)}}});
  std::vector<std::string> notes;
  ProxyState state = BuildProxyState({shop, raw}, {}, &notes);
  CHECK(ListenerOn(state, 80).kind == ListenerKind::kTcp);
  CHECK(ListenerOn(state, 80).https_redirects.empty());
  REQUIRE(notes.size() == 1);
  CHECK_THAT(notes[0], Catch::Contains("redirect_http"));
}

TEST_CASE("Host-network services are not proxied and say so") {
  auto shop = Deployment("shop", {{"web", {Public("http", Protocol::kHttp, 80)}}});
  shop.services["web"].network_mode = NetworkMode::kHost;
  std::vector<std::string> notes;
  ProxyState state =
      BuildProxyState({shop}, {Ready("shop-web-0", "shop", "web", "1.2.3.4")}, &notes);
  CHECK(state == ProxyState{});
  REQUIRE(notes.size() == 1);
  CHECK_THAT(notes[0], Catch::Contains("network_mode host"));
}

TEST_CASE("Conflicting claims that reach the table anyway: the first deployment by name wins") {
  auto a = Deployment("a", {{"web", {Public("http", Protocol::kHttp, 80, "x.com")}}});
  auto b = Deployment("b", {{"web",
                             {Public("http", Protocol::kHttp, 80, "X.com"),
                              Public("other", Protocol::kHttp, 80, "y.com")}}});
  std::vector<std::string> notes;
  ProxyState state = BuildProxyState({b, a}, {}, &notes);
  const Listener& http = ListenerOn(state, 80);
  REQUIRE(http.routes.size() == 2);
  CHECK(http.routes[0].deployment == "a");
  CHECK(http.routes[1].host == "y.com");
  CHECK(notes.size() == 1);
}

TEST_CASE("Deployments with different hosts, paths or ports do not conflict") {
  auto shop = Deployment(
      "shop", {{"web",
                {Public("http", Protocol::kHttp, 80, "shop.com"),
                 Public("pg", Protocol::kTcp, 5432), Public("dns", Protocol::kUdp, 53)}}});
  auto blog = Deployment(
      "blog", {{"web",
                {Public("http", Protocol::kHttp, 80, "blog.com"),
                 Public("api", Protocol::kHttp, 80, "shop.com", "/blog"),
                 Public("tls", Protocol::kHttps, 443, "shop.com"),
                 Public("dns", Protocol::kTcp, 53), Public("pg", Protocol::kUdp, 5432)}}});
  CHECK(CheckRouteConflicts(blog, {shop}).ok());
  CHECK(CheckRouteConflicts(shop, {blog}).ok());
  // A deployment's own previous version is no conflict.
  CHECK(CheckRouteConflicts(shop, {shop}).ok());
}

TEST_CASE("Claims another deployment already has are refused, naming it, the port and route") {
  auto shop = Deployment(
      "shop", {{"web",
                {Public("http", Protocol::kHttp, 80, "shop.com", "/api"),
                 Public("tls", Protocol::kHttps, 443, "shop.com"),
                 Public("pg", Protocol::kTcp, 5432), Public("dns", Protocol::kUdp, 53)}}});
  struct Case {
    const char* what;
    zlayer::spec::Endpoint endpoint;
    std::vector<const char*> words;
  };
  const Case cases[] = {
      {"the same host and path",
       Public("h", Protocol::kHttp, 80, "SHOP.com", "/api/"),
       {"port 80", "host shop.com", "path /api", "shop"}},
      {"the same https host",
       Public("h", Protocol::kHttps, 443, "shop.com"),
       {"port 443", "host shop.com", "shop"}},
      {"the same tcp port", Public("t", Protocol::kTcp, 5432), {"tcp port 5432", "shop"}},
      {"the same udp port", Public("u", Protocol::kUdp, 53), {"udp port 53", "shop"}},
      {"https on a plain HTTP port",
       Public("s", Protocol::kHttps, 80, "other.com"),
       {"port 80", "HTTPS", "plain HTTP", "shop"}},
      {"http on a TLS port", Public("h", Protocol::kHttp, 443, "other.com"), {"port 443", "shop"}},
      {"tcp on an HTTP port", Public("t", Protocol::kTcp, 80), {"port 80", "tcp", "shop"}},
      {"http on a tcp port", Public("h", Protocol::kWebsocket, 5432), {"port 5432", "shop"}},
      {"a redirect on a port 80 of tcp",
       Redirecting(Public("s", Protocol::kHttps, 8443, "other.com")),
       {"port 80", "redirect_http"}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    auto blog = Deployment("blog", {{"web", {c.endpoint}}});
    std::vector<zlayer::spec::Deployment> others = {shop};
    if (std::string(c.what).starts_with("a redirect")) {
      others = {Deployment("raw", {{"tcp", {Public("t", Protocol::kTcp, 80)}}})};
    }
    zlayer::Status status = CheckRouteConflicts(blog, others);
    REQUIRE_FALSE(status.ok());
    CHECK(status.code() == StatusCode::kAlreadyExists);
    INFO(status.message());
    for (const char* word : c.words) CHECK_THAT(status.message(), Catch::Contains(word));
    if (std::string(c.what).starts_with("a redirect")) {
      CHECK_THAT(status.message(), Catch::Contains("deployment raw"));
    } else {
      CHECK_THAT(status.message(), Catch::Contains("deployment shop"));
    }
  }
}

TEST_CASE("A redirect of a host and path that another deployment routes on port 80 is allowed") {
  auto site = Deployment("site", {{"web", {Public("http", Protocol::kHttp, 80, "shop.com")}}});
  auto shop = Deployment(
      "shop", {{"web", {Redirecting(Public("tls", Protocol::kHttps, 443, "shop.com"))}}});
  CHECK(CheckRouteConflicts(shop, {site}).ok());
  auto again = Deployment(
      "again", {{"web", {Redirecting(Public("tls", Protocol::kHttps, 8443, "shop.com"))}}});
  CHECK(CheckRouteConflicts(again, {shop}).code() == StatusCode::kAlreadyExists);
}

TEST_CASE("A deployment contradicting itself is an invalid argument") {
  struct Case {
    const char* what;
    std::vector<zlayer::spec::Endpoint> endpoints;
    const char* word;
  };
  const Case cases[] = {
      {"two routes of one host and path",
       {Public("a", Protocol::kHttp, 80, "x.com", "/p"),
        Public("b", Protocol::kWebsocket, 80, "X.COM", "/p/")},
       "routed twice"},
      {"a port both http and https",
       {Public("a", Protocol::kHttp, 80, "x.com"), Public("b", Protocol::kHttps, 80, "y.com")},
       "port 80"},
      {"a port both https and tcp",
       {Public("a", Protocol::kHttps, 443), Public("b", Protocol::kTcp, 443)},
       "port 443"},
      {"a tcp port twice",
       {Public("a", Protocol::kTcp, 22), Public("b", Protocol::kTcp, 22)},
       "tcp port 22"},
      {"a udp port twice",
       {Public("a", Protocol::kUdp, 53), Public("b", Protocol::kUdp, 53)},
       "udp port 53"},
      {"a host that is not a host name", {Public("a", Protocol::kHttp, 80, "x .com")}, "host"},
      {"a wildcard in the middle", {Public("a", Protocol::kHttp, 80, "a.*.com")}, "host"},
      {"a path with a space", {Public("a", Protocol::kHttp, 80, std::nullopt, "/a b")}, "path"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    zlayer::Status status = CheckRouteConflicts(Deployment("d", {{"web", c.endpoints}}), {});
    REQUIRE_FALSE(status.ok());
    CHECK(status.code() == StatusCode::kInvalidArgument);
    CHECK_THAT(status.message(), Catch::Contains(c.word));
  }
  // Internal endpoints claim nothing.
  CHECK(CheckRouteConflicts(Deployment("d", {{"web",
                                              {Public("a", Protocol::kTcp, 22),
                                               Internal(Public("b", Protocol::kTcp, 22))}}}),
                            {})
            .ok());
}
