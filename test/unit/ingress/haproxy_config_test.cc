#include "agent/ingress/haproxy_config.h"

#include <catch2/catch.hpp>

#include "agent/ingress/route_table.h"
#include "test/unit/ingress/ingress_test_specs.h"

using zlayer::IngressPaths;
using zlayer::agent::ingress::BuildProxyState;
using zlayer::agent::ingress::HaproxySettings;
using zlayer::agent::ingress::IngressReplica;
using zlayer::agent::ingress::ProxyState;
using zlayer::agent::ingress::RenderedHaproxy;
using zlayer::agent::ingress::RenderHaproxy;
using zlayer::agent::ingress::testing::Deployment;
using zlayer::agent::ingress::testing::Public;
using zlayer::agent::ingress::testing::Redirecting;
using zlayer::spec::Protocol;

namespace {

HaproxySettings Settings(std::string bind_address = "") {
  HaproxySettings settings;
  settings.paths.dir = "/run/zl/ingress";
  settings.paths.config_file = "/run/zl/ingress/haproxy.cfg";
  settings.paths.admin_socket = "/run/zl/ingress/admin.sock";
  settings.paths.maps_dir = "/run/zl/ingress/maps";
  settings.paths.crt_list = "/run/zl/ingress/crt-list.txt";
  settings.bind_address = std::move(bind_address);
  return settings;
}

ProxyState ShopState() {
  auto shop = Deployment(
      "shop",
      {{"web",
        {Public("http", Protocol::kHttp, 80, "shop.example.com", std::nullopt, 8080),
         Public("api", Protocol::kHttp, 80, "shop.example.com", "/api", 8081),
         Public("any", Protocol::kWebsocket, 80, std::nullopt, "/ws", 8082),
         Public("wild", Protocol::kHttp, 80, "*.example.com", std::nullopt, 8083),
         Public("deep", Protocol::kHttp, 80, "*.eu.example.com", std::nullopt, 8084),
         Redirecting(Public("tls", Protocol::kHttps, 443, "shop.example.com", std::nullopt, 8080)),
         Redirecting(Public("alt", Protocol::kHttps, 8443, "alt.example.com", "/x", 8080))}},
       {"db", {Public("pg", Protocol::kTcp, 5432)}},
       {"dns", {Public("dns", Protocol::kUdp, 53)}}});
  return BuildProxyState({shop}, {{"shop-web-1", "shop", "web", "10.200.0.3", true},
                                  {"shop-web-0", "shop", "web", "10.200.0.2", true},
                                  {"shop-db-0", "shop", "db", "10.200.0.5", true}});
}

bool HasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("The global section has the admin socket that hands over listeners, and a hard stop") {
  RenderedHaproxy out = RenderHaproxy(ProxyState{}, Settings());
  CHECK(HasLine(out.config,
                "    stats socket /run/zl/ingress/admin.sock mode 600 level admin expose-fd "
                "listeners"));
  CHECK(HasLine(out.config, "    hard-stop-after 30s"));
  for (const char* line : {"    timeout connect 5s", "    timeout client 60s",
                           "    timeout server 60s", "    timeout http-request 10s",
                           "    timeout http-keep-alive 10s", "    timeout tunnel 1h"}) {
    CHECK(HasLine(out.config, line));
  }
  CHECK(out.config.find("frontend") == std::string::npos);
  CHECK(out.maps.empty());
}

TEST_CASE("Each listener is a frontend bound on the ingress address, or on every address") {
  RenderedHaproxy all = RenderHaproxy(ShopState(), Settings());
  CHECK(HasLine(all.config, "frontend http_80"));
  CHECK(HasLine(all.config, "    bind :80"));
  CHECK(HasLine(all.config, "frontend https_443"));
  CHECK(HasLine(all.config,
                "    bind :443 ssl crt-list /run/zl/ingress/crt-list.txt alpn h2,http/1.1"));
  CHECK(HasLine(all.config, "frontend tcp_5432"));
  CHECK(HasLine(all.config, "    default_backend b_shop_db_pg"));
  CHECK(all.config.find(":53") == std::string::npos);  // udp is nftables' job

  RenderedHaproxy one = RenderHaproxy(ShopState(), Settings("127.0.0.7"));
  CHECK(HasLine(one.config, "    bind 127.0.0.7:80"));
  CHECK(HasLine(one.config,
                "    bind 127.0.0.7:8443 ssl crt-list /run/zl/ingress/crt-list.txt "
                "alpn h2,http/1.1"));
  CHECK(HasLine(one.config, "    bind 127.0.0.7:5432"));
}

TEST_CASE("HTTP frontends set the forwarding headers, with the protocol of the listener") {
  RenderedHaproxy out = RenderHaproxy(ShopState(), Settings());
  CHECK(HasLine(out.config,
                "    http-request set-header X-Forwarded-For \"%[req.fhdr(x-forwarded-for)], "
                "%[src]\" if { req.fhdr(x-forwarded-for) -m found }"));
  CHECK(HasLine(out.config, "    option idle-close-on-response"));
  CHECK(HasLine(out.config, "    http-request set-header X-Forwarded-Proto http"));
  CHECK(HasLine(out.config, "    http-request set-header X-Forwarded-Proto https"));
  CHECK(HasLine(out.config, "    http-request set-header X-Real-IP %[src]"));
  CHECK(HasLine(out.config,
                "    http-request set-header X-Forwarded-Host %[req.hdr(host)] if "
                "{ req.hdr(host) -m found }"));
}

TEST_CASE("Routes become map lines <vhost><path>/, longest first, wildcards by suffix") {
  RenderedHaproxy out = RenderHaproxy(ShopState(), Settings());
  CHECK(out.maps.at("routes-80.map") ==
        "shop.example.com/api/ b_shop_web_api\n"
        "alt.example.com/x/ @redirect:8443\n"
        "*.eu.example.com/ b_shop_web_deep\n"
        "shop.example.com/ b_shop_web_http\n"  // the route wins over the redirect
        "*.example.com/ b_shop_web_wild\n"
        "/ws/ b_shop_web_any\n");
  CHECK(out.maps.at("wildcards-80.map") ==
        ".eu.example.com *.eu.example.com\n"
        ".example.com *.example.com\n");
  CHECK(out.maps.at("routes-443.map") == "shop.example.com/ b_shop_web_tls\n");
  CHECK(out.maps.at("wildcards-443.map").empty());
  CHECK(out.maps.count("routes-5432.map") == 0);
  CHECK(HasLine(out.config,
                "    http-request set-var(txn.zl_route) "
                "var(txn.zl_key),map_beg(/run/zl/ingress/maps/routes-80.map) "
                "if !{ var(txn.zl_route) -m found }"));
  CHECK(HasLine(out.config, "    use_backend %[var(txn.zl_route)]"));
}

TEST_CASE("No route is a 404 and no server a 503, both JSON; redirects are 308") {
  RenderedHaproxy out = RenderHaproxy(ShopState(), Settings());
  CHECK(HasLine(
      out.config,
      R"(    http-request return status 404 content-type application/json string '{"error":"no route","status":404}' if !{ var(txn.zl_route) -m found })"));
  CHECK(HasLine(
      out.config,
      R"(    http-error status 503 content-type application/json string '{"error":"no ready replica","status":503}')"));
  CHECK(out.config.find("http-request redirect code 308 location https://") != std::string::npos);
}

TEST_CASE("Backends balance round-robin over the ready replicas, with pooled connections") {
  RenderedHaproxy out = RenderHaproxy(ShopState(), Settings());
  std::string web = out.config.substr(out.config.find("\nbackend b_shop_web_http\n") + 1);
  web = web.substr(0, web.find("\n\n") + 1);
  CHECK(HasLine(web, "    mode http"));
  CHECK(HasLine(web, "    balance roundrobin"));
  CHECK(web.find("server shop-web-0 10.200.0.2:8080 pool-max-conn -1 pool-purge-delay 5s\n"
                 "    server shop-web-1 10.200.0.3:8080") != std::string::npos);
  CHECK(web.find(" check") == std::string::npos);
  std::string db = out.config.substr(out.config.find("\nbackend b_shop_db_pg\n") + 1);
  db = db.substr(0, db.find("\n\n") + 1);
  CHECK(HasLine(db, "    mode tcp"));
  CHECK(db.find("http-error") == std::string::npos);
}

TEST_CASE("Rendering is deterministic") {
  CHECK(RenderHaproxy(ShopState(), Settings()).config ==
        RenderHaproxy(ShopState(), Settings()).config);
  CHECK(RenderHaproxy(ShopState(), Settings()).maps == RenderHaproxy(ShopState(), Settings()).maps);
}

TEST_CASE("With ACME on, port 80 sends the challenge path to the ACME client before any route") {
  HaproxySettings settings = Settings();
  settings.acme_challenge_address = "127.0.0.1:8402";
  const RenderedHaproxy rendered = RenderHaproxy(ShopState(), settings);
  const std::string& c = rendered.config;
  const size_t challenge = c.find(
      "    http-request set-var(txn.zl_route) str(acme_challenge) if { path_beg "
      "/.well-known/acme-challenge/ }\n");
  REQUIRE(challenge != std::string::npos);
  CHECK(challenge > c.find("frontend http_80\n"));
  CHECK(challenge < c.find("# 1. the exact host"));  // before the first route lookup
  // Every lookup, the first one included, keeps a route already chosen.
  CHECK(c.find("http-request set-var(txn.zl_route) var(txn.zl_key),map_beg("
               "/run/zl/ingress/maps/routes-80.map) if !{ var(txn.zl_route) -m found }") !=
        std::string::npos);
  CHECK(HasLine(c, "backend acme_challenge"));
  CHECK(HasLine(c, "    server acme 127.0.0.1:8402"));
  // Only port 80's frontend (HTTP-01 is never asked elsewhere): the one rule.
  const size_t rule_end = c.find('\n', challenge);
  CHECK(c.find("acme-challenge") > challenge);
  CHECK(c.find("acme-challenge", rule_end) == std::string::npos);
}

TEST_CASE("With ACME off, nothing answers the challenge path but the routes") {
  const RenderedHaproxy rendered = RenderHaproxy(ShopState(), Settings());
  CHECK(rendered.config.find("acme") == std::string::npos);
}
