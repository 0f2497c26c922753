#include "agent/network/cni/cni_config.h"

#include <catch2/catch.hpp>

using nlohmann::json;
using zlayer::agent::network::cni::BridgeNetwork;
using zlayer::agent::network::cni::BridgeNetworkList;
using zlayer::agent::network::cni::LoopbackNetworkList;
using zlayer::agent::network::cni::PluginInput;

namespace {
BridgeNetwork Web() {
  return BridgeNetwork{.name = "zl-web",
                       .bridge = "zl-br3",
                       .subnet = "10.200.3.0/24",
                       .ipam_data_dir = "/var/lib/zlayer/network/ipam"};
}
}  // namespace

TEST_CASE("A deployment's bridge is a gateway with masquerade, hairpin and host-local IPAM") {
  json list = BridgeNetworkList(Web()).ToJson();
  CHECK(list["cniVersion"] == "1.0.0");
  CHECK(list["name"] == "zl-web");
  REQUIRE(list["plugins"].size() == 2);
  const json& bridge = list["plugins"][0];
  CHECK(bridge["type"] == "bridge");
  CHECK(bridge["bridge"] == "zl-br3");
  CHECK(bridge["isGateway"] == true);
  CHECK(bridge["ipMasq"] == true);
  CHECK(bridge["hairpinMode"] == true);
  CHECK(bridge["ipam"]["type"] == "host-local");
  CHECK(bridge["ipam"]["ranges"] == json::parse(R"([[{"subnet":"10.200.3.0/24"}]])"));
  CHECK(bridge["ipam"]["routes"] == json::parse(R"([{"dst":"0.0.0.0/0"}])"));
  CHECK(bridge["ipam"]["dataDir"] == "/var/lib/zlayer/network/ipam");
  CHECK(list["plugins"][1] == json::parse(R"({"type":"firewall","backend":"iptables"})"));
}

TEST_CASE("Without accept_forward the bridge list has the bridge plugin only") {
  BridgeNetwork network = Web();
  network.accept_forward = false;
  CHECK(BridgeNetworkList(network).plugins.size() == 1);
}

TEST_CASE("The loopback list holds the loopback plugin") {
  json list = LoopbackNetworkList().ToJson();
  CHECK(list["plugins"] == json::parse(R"([{"type":"loopback"}])"));
}

TEST_CASE(
    "A plugin's input is its object plus the list's name and version, and prevResult "
    "only when there is one") {
  auto list = BridgeNetworkList(Web());
  json first = PluginInput(list, 0, json());
  CHECK(first["type"] == "bridge");
  CHECK(first["name"] == "zl-web");
  CHECK(first["cniVersion"] == "1.0.0");
  CHECK_FALSE(first.contains("prevResult"));

  json prev = json::parse(R"({"cniVersion":"1.0.0","ips":[{"address":"10.200.3.2/24"}]})");
  json second = PluginInput(list, 1, prev);
  CHECK(second["type"] == "firewall");
  CHECK(second["name"] == "zl-web");
  CHECK(second["prevResult"] == prev);
}
