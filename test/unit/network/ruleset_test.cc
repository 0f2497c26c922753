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

namespace {

// WebAndShop with web's "dns" on the node's udp port 53 (to 5353) on two
// ready replicas, and shop's "stats" on udp port 8125 with none.
NetworkRules WithPublicUdp() {
  NetworkRules rules = WebAndShop();
  rules.public_udp = {
      PublicUdpPort{.port = 8125,
                    .target_port = 8125,
                    .deployment = "shop",
                    .service = "stats",
                    .backends = {}},
      PublicUdpPort{.port = 53,
                    .target_port = 5353,
                    .deployment = "web",
                    .service = "dns",
                    .backends = {"10.200.0.3", "10.200.0.2"}},
  };
  return rules;
}

}  // namespace

TEST_CASE("A public udp port with ready backends DNATs datagrams to the node to a random one") {
  const std::string script = Render(WithPublicUdp());
  CHECK_THAT(script, Catch::Contains("map public_udp_ports {\n"
                                     "\t\ttype inet_service : verdict\n"
                                     "\t\telements = { 53 : goto pub_web_dns_udp_53 }\n"));
  CHECK_THAT(script, Catch::Contains("chain pub_web_dns_udp_53 {\n"
                                     "\t\tmeta l4proto udp dnat ip addr . port to numgen random "
                                     "mod 2 map { 0 : 10.200.0.2 . 5353, 1 : 10.200.0.3 . 5353 }"));
  // Any local address but loopback and the bridges' gateways (the node's DNS).
  CHECK_THAT(script, Catch::Contains("chain public_udp {\n"
                                     "\t\tip daddr != 127.0.0.0/8 ip daddr != @deployment_subnets "
                                     "fib daddr type local udp dport vmap @public_udp_ports\n"));
  // From other hosts and replicas (prerouting) and from the node itself (output).
  CHECK_THAT(script, Catch::Contains("vmap @service_ports\n"
                                     "\t\tmeta l4proto udp jump public_udp\n"
                                     "\t}\n\n"
                                     "\t# dstnat (-100)"));
  CHECK_THAT(script, Catch::Contains("type nat hook output priority -100; policy accept;\n"
                                     "\t\tip daddr . meta l4proto . th dport vmap @service_ports\n"
                                     "\t\tmeta l4proto udp jump public_udp\n"));
}

TEST_CASE("A public udp port without ready backends is refused with port unreachable") {
  const std::string script = Render(WithPublicUdp());
  CHECK_THAT(script, !Catch::Contains("pub_shop_stats"));
  CHECK_THAT(script, Catch::Contains("set public_udp_refused {\n"
                                     "\t\ttype inet_service\n"
                                     "\t\telements = { 8125 }\n"));
  CHECK_THAT(script, Catch::Contains("type filter hook input priority filter; policy accept;\n"
                                     "\t\tip daddr != 127.0.0.0/8 ip daddr != @deployment_subnets "
                                     "udp dport @public_udp_refused reject\n"));
}

TEST_CASE("Every deployment's replicas reach a public udp port, isolation notwithstanding") {
  const std::string script = Render(WithPublicUdp());
  CHECK_THAT(script, Catch::Contains("set public_udp_served {\n"
                                     "\t\ttype inet_service\n"
                                     "\t\telements = { 53 }\n"));
  // Accepted before the drops between subnets; a service address stays isolated.
  CHECK_THAT(script, Catch::Contains("ip daddr @service_addresses goto refuse\n"
                                     "\t\tct status dnat meta l4proto udp ct original proto-dst "
                                     "@public_udp_served ct original ip daddr != "
                                     "@service_addresses accept\n"
                                     "\t\tip saddr 10.200.0.0/24 ip daddr != 10.200.0.0/24"));
}

TEST_CASE("With a public address, only datagrams to it are forwarded or refused") {
  NetworkRules rules = WithPublicUdp();
  rules.public_address = "192.0.2.1";
  const std::string script = Render(rules);
  CHECK_THAT(script, Catch::Contains("chain public_udp {\n"
                                     "\t\tip daddr 192.0.2.1 udp dport vmap @public_udp_ports\n"));
  CHECK_THAT(script, Catch::Contains("ip daddr 192.0.2.1 udp dport @public_udp_refused reject\n"));
  CHECK_THAT(script, !Catch::Contains("fib"));
}

TEST_CASE("A loopback public address is masqueraded, and 127/8 from elsewhere dropped") {
  NetworkRules rules = WithPublicUdp();
  CHECK_THAT(Render(rules), !Catch::Contains("127.0.0.0/8 ct status dnat masquerade"));
  rules.public_address = "127.0.0.2";
  const std::string script = Render(rules);
  CHECK_THAT(script, Catch::Contains("\t\tip saddr 127.0.0.0/8 ct status dnat masquerade\n"));
  CHECK_THAT(script, Catch::Contains("\t\tiifname != \"lo\" ip daddr 127.0.0.0/8 ct state { new, "
                                     "invalid, untracked } drop\n"));
}

TEST_CASE("Public udp ports render the same in any order; duplicate backends merge") {
  NetworkRules rules = WithPublicUdp();
  NetworkRules shuffled = rules;
  std::swap(shuffled.public_udp[0], shuffled.public_udp[1]);
  shuffled.public_udp[0].backends = {"10.200.0.2", "10.200.0.3", "10.200.0.3"};
  CHECK(Render(rules) == Render(shuffled));
}

TEST_CASE("Bad public udp ports are refused with the offending entry named") {
  struct Case {
    const char* what;
    std::function<void(NetworkRules&)> change;
    const char* message;
  };
  const Case cases[] = {
      {"one port claimed twice",
       [](NetworkRules& r) {
         r.public_udp.push_back({.port = 53,
                                 .target_port = 53,
                                 .deployment = "shop",
                                 .service = "dns",
                                 .backends = {}});
       },
       "public udp port 53 of shop/dns: also claimed by web/dns"},
      {"port 0", [](NetworkRules& r) { r.public_udp[0].port = 0; }, "ports are 1 to 65535"},
      {"a bad name", [](NetworkRules& r) { r.public_udp[1].service = "Dns"; }, "names must match"},
      {"a backend that is not an address",
       [](NetworkRules& r) { r.public_udp[1].backends.push_back("web-0"); }, "backend \"web-0\""},
      {"a public address that is not one", [](NetworkRules& r) { r.public_address = "0.0.0.0/0"; },
       "public address \"0.0.0.0/0\""},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    NetworkRules rules = WithPublicUdp();
    c.change(rules);
    auto script = RenderRuleset(kTable, rules);
    REQUIRE_FALSE(script.ok());
    CHECK(script.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(script.status().message(), Catch::Contains(c.message));
  }
}
