#include "agent/network/services/ruleset.h"

#include <catch2/catch.hpp>

using zlayer::StatusCode;
using namespace zlayer::agent::network::services;

namespace {

constexpr const char* kTable = "zlayer_0ac8";

NetworkRules WebAndShop() {
  NetworkRules rules;
  rules.subnets = {{"web", "10.200.0.0/24"}, {"shop", "10.200.1.0/24"}};
  rules.services = {
      ServiceRoute{.deployment = "web",
                   .service = "api",
                   .address = "10.201.0.1",
                   .ports = {{Protocol::kTcp, 80, 8080}, {Protocol::kUdp, 53, 5353}},
                   .backends = {"10.200.0.3", "10.200.0.2"}},
      ServiceRoute{.deployment = "shop",
                   .service = "cart",
                   .address = "10.201.0.2",
                   .ports = {{Protocol::kTcp, 443, 8443}},
                   .backends = {}},
  };
  return rules;
}

std::string Render(const NetworkRules& rules) {
  auto script = RenderRuleset(kTable, rules);
  INFO(script.status().message());
  REQUIRE(script.ok());
  return *script;
}

}  // namespace

TEST_CASE("The script replaces the whole table in one transaction, creating it first") {
  const std::string script = Render(WebAndShop());
  CHECK_THAT(script, Catch::Contains("table ip zlayer_0ac8 {}\n"
                                     "delete table ip zlayer_0ac8\n"
                                     "table ip zlayer_0ac8 {\n"));
  CHECK(RenderDeleteTable(kTable) == "table ip zlayer_0ac8 {}\ndelete table ip zlayer_0ac8\n");
}

TEST_CASE("A service port with ready backends DNATs to a random one of them on its target port") {
  const std::string script = Render(WebAndShop());
  CHECK_THAT(script, Catch::Contains("10.201.0.1 . tcp . 80 : goto svc_web_api_tcp_80"));
  CHECK_THAT(script, Catch::Contains("10.201.0.1 . udp . 53 : goto svc_web_api_udp_53"));
  CHECK_THAT(script, Catch::Contains("chain svc_web_api_tcp_80 {\n"
                                     "\t\tmeta l4proto tcp dnat ip addr . port to numgen random "
                                     "mod 2 map { 0 : 10.200.0.2 . 8080, 1 : 10.200.0.3 . 8080 }"));
  CHECK_THAT(script, Catch::Contains("meta l4proto udp dnat ip addr . port to numgen random mod 2 "
                                     "map { 0 : 10.200.0.2 . 5353, 1 : 10.200.0.3 . 5353 }"));
  CHECK_THAT(script, Catch::Contains("type nat hook prerouting priority dstnat; policy accept;\n"
                                     "\t\tip daddr . meta l4proto . th dport vmap @service_ports"));
  CHECK_THAT(script, Catch::Contains("type nat hook output priority -100; policy accept;\n"
                                     "\t\tip daddr . meta l4proto . th dport vmap @service_ports"));
}

TEST_CASE("A service without ready backends is not DNAT'd but refused on forward and output") {
  const std::string script = Render(WebAndShop());
  CHECK_THAT(script, !Catch::Contains("svc_shop_cart"));
  CHECK_THAT(script, Catch::Contains("elements = { 10.201.0.1,\n\t\t\t     10.201.0.2 }"));
  CHECK_THAT(script, Catch::Contains("chain refuse {\n"
                                     "\t\tmeta l4proto tcp reject with tcp reset\n"
                                     "\t\treject\n"));
  CHECK_THAT(script, Catch::Contains("type filter hook forward priority filter; policy accept;\n"
                                     "\t\tip daddr @service_addresses goto refuse\n"));
  CHECK_THAT(script, Catch::Contains("type filter hook output priority filter; policy accept;\n"
                                     "\t\tip daddr @service_addresses goto refuse\n"));
}

TEST_CASE("Each subnet reaches only itself, and hairpin traffic within a subnet is masqueraded") {
  const std::string script = Render(WebAndShop());
  CHECK_THAT(script,
             Catch::Contains("ip saddr 10.200.0.0/24 ip daddr != 10.200.0.0/24 ip daddr "
                             "@deployment_subnets drop\n"
                             "\t\tip saddr 10.200.1.0/24 ip daddr != 10.200.1.0/24 ip daddr "
                             "@deployment_subnets drop\n"));
  CHECK_THAT(script, Catch::Contains("flags interval\n\t\tauto-merge\n\t\telements = { "
                                     "10.200.0.0/24,\n\t\t\t     10.200.1.0/24 }"));
  CHECK_THAT(script, Catch::Contains("type nat hook postrouting priority srcnat; policy accept;\n"
                                     "\t\tip saddr 10.200.0.0/24 ip daddr 10.200.0.0/24 ct status "
                                     "dnat masquerade\n"));
  // Outbound NAT is the bridge plugin's: no masquerade of anything else.
  CHECK_THAT(script, !Catch::Contains("oifname"));
}

TEST_CASE("The same rules in another order render the same text; duplicate backends merge") {
  NetworkRules rules = WebAndShop();
  NetworkRules shuffled = rules;
  std::swap(shuffled.services[0], shuffled.services[1]);
  std::swap(shuffled.services[1].ports[0], shuffled.services[1].ports[1]);
  shuffled.services[1].backends = {"10.200.0.2", "10.200.0.3", "10.200.0.2"};
  CHECK(Render(rules) == Render(shuffled));
}

TEST_CASE("Backends sort by address, not by text") {
  NetworkRules rules;
  rules.services = {ServiceRoute{.deployment = "web",
                                 .service = "api",
                                 .address = "10.201.0.1",
                                 .ports = {{Protocol::kTcp, 80, 80}},
                                 .backends = {"10.200.0.10", "10.200.0.9"}}};
  CHECK_THAT(Render(rules), Catch::Contains("0 : 10.200.0.9 . 80, 1 : 10.200.0.10 . 80"));
}

TEST_CASE("Empty rules still render the hooks, with empty sets and maps") {
  const std::string script = Render(NetworkRules{});
  CHECK_THAT(script, !Catch::Contains("elements"));
  CHECK_THAT(script, Catch::Contains("vmap @service_ports"));
}

TEST_CASE("Bad input is refused with the offending entry named, instead of a broken script") {
  struct Case {
    const char* what;
    std::function<void(NetworkRules&)> change;
    const char* message;
  };
  const Case cases[] = {
      {"a deployment name that nft would misread",
       [](NetworkRules& r) { r.services[0].deployment = "web_1"; }, "service web_1/api: names"},
      {"a service address that is not one", [](NetworkRules& r) { r.services[0].address = "x"; },
       "address \"x\""},
      {"a backend that is not an address",
       [](NetworkRules& r) { r.services[0].backends.push_back("10.200.0.0/24"); },
       "backend \"10.200.0.0/24\""},
      {"port 0", [](NetworkRules& r) { r.services[0].ports[0].port = 0; }, "ports are 1 to 65535"},
      {"the same port twice",
       [](NetworkRules& r) {
         r.services[0].ports.push_back({Protocol::kTcp, 80, 9090});
       },
       "tcp port 80 is given twice"},
      {"two services on one address", [](NetworkRules& r) { r.services[1].address = "10.201.0.1"; },
       "address 10.201.0.1 is also"},
      {"a subnet that is not a CIDR", [](NetworkRules& r) { r.subnets["web"] = "10.200.0.1/24"; },
       "subnet of deployment web"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    NetworkRules rules = WebAndShop();
    c.change(rules);
    auto script = RenderRuleset(kTable, rules);
    REQUIRE_FALSE(script.ok());
    CHECK(script.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(script.status().message(), Catch::Contains(c.message));
  }
  CHECK_FALSE(RenderRuleset("bad table", WebAndShop()).ok());
}
