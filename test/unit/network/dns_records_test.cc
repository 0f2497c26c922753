#include "agent/network/dns/dns_records.h"

#include <catch2/catch.hpp>

using namespace zlayer::agent::network;

TEST_CASE("A service's name lives under its deployment's domain, a replica's under its service") {
  CHECK(DeploymentDomain("shop") == "shop.zlayer.internal");
  CHECK(ServiceDnsName("shop", "web") == "web.shop.zlayer.internal");
  CHECK(ReplicaDnsName("shop", "web", 2) == "2.web.shop.zlayer.internal");
}

TEST_CASE("A deployment's records name each service's virtual address and each replica's own") {
  auto records = DeploymentDnsRecords(
      "shop", {{"web", "10.201.0.7"}, {"db", "10.201.0.8"}},
      {{"web", 0, "10.200.3.2"}, {"web", 1, "10.200.3.3"}, {"db", 0, "10.200.3.4"}});
  CHECK(records == std::vector<DnsRecord>{
                       {"0.db.shop.zlayer.internal", "10.200.3.4"},
                       {"0.web.shop.zlayer.internal", "10.200.3.2"},
                       {"1.web.shop.zlayer.internal", "10.200.3.3"},
                       {"db.shop.zlayer.internal", "10.201.0.8"},
                       {"web.shop.zlayer.internal", "10.201.0.7"},
                   });
}

TEST_CASE("Services and replicas without an address get no record") {
  auto records = DeploymentDnsRecords("shop", {{"web", ""}, {"db", "10.201.0.8"}},
                                      {{"web", 0, ""}, {"web", 1, "10.200.3.3"}});
  CHECK(records == std::vector<DnsRecord>{{"1.web.shop.zlayer.internal", "10.200.3.3"},
                                          {"db.shop.zlayer.internal", "10.201.0.8"}});
  CHECK(DeploymentDnsRecords("shop", {}, {{"web", 0, ""}}).empty());
}

TEST_CASE("The same services and replicas in another order give the same records") {
  auto a = DeploymentDnsRecords("d", {{"a", "10.201.0.1"}, {"b", "10.201.0.2"}},
                                {{"a", 1, "10.200.0.3"}, {"a", 0, "10.200.0.2"}});
  auto b = DeploymentDnsRecords("d", {{"b", "10.201.0.2"}, {"a", "10.201.0.1"}},
                                {{"a", 0, "10.200.0.2"}, {"a", 1, "10.200.0.3"}});
  CHECK(a == b);
}

TEST_CASE("A hosts file has one 'ADDRESS NAME' line per record, and none for no records") {
  CHECK(RenderHostsFile({{"web.shop.zlayer.internal", "10.201.0.7"},
                         {"0.web.shop.zlayer.internal", "10.200.3.2"}}) ==
        "10.201.0.7 web.shop.zlayer.internal\n10.200.3.2 0.web.shop.zlayer.internal\n");
  CHECK(RenderHostsFile({}).empty());
}

TEST_CASE("A container's resolv.conf names its gateway and searches its deployment's domain") {
  CHECK(ContainerResolvConf("10.200.3.1", "shop") ==
        "nameserver 10.200.3.1\n"
        "search shop.zlayer.internal\n"
        "options ndots:2\n");
}
