// CNI network configurations (CNI spec 1.0.0, section 1) for the agent's own
// networks, and the per-plugin input the runtime derives from them (section 3).
//
// Pure functions on plain data: no I/O, no globals.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace zlayer::agent::network::cni {

inline constexpr const char* kCniVersion = "1.0.0";

// A network configuration list: its plugins run in order on ADD and CHECK,
// in reverse order on DEL.
struct NetworkList {
  std::string name;
  std::string cni_version = kCniVersion;
  // Plugin configuration objects, each with at least "type".
  std::vector<nlohmann::json> plugins;

  // The list as the spec's JSON document ({"cniVersion", "name", "plugins"}).
  nlohmann::json ToJson() const;
};

// A deployment's bridge network.
struct BridgeNetwork {
  std::string name;    // the CNI network name, e.g. "zl-web"
  std::string bridge;  // the Linux bridge, at most 15 characters, e.g. "zl-br3"
  std::string subnet;  // an IPv4 CIDR, e.g. "10.200.3.0/24"; the gateway is its first address
  std::string ipam_data_dir;  // host-local's dataDir, under the agent's data dir
  // Chains the `firewall` plugin (iptables backend) after the bridge: it accepts
  // the replicas' traffic in the `filter` table's FORWARD chain. Needed where
  // dockerd runs beside us (FORWARD policy DROP with br_netfilter): an accept in
  // a table of our own cannot overrule another table's drop.
  bool accept_forward = true;
};

// bridge (isGateway, ipMasq, hairpinMode) with host-local IPAM over the whole
// subnet and a default route, then firewall when accept_forward is set.
NetworkList BridgeNetworkList(const BridgeNetwork& network);

// The loopback plugin alone: brings up `lo` (invoke it with ifname "lo").
NetworkList LoopbackNetworkList();

// The configuration the runtime writes to plugin `index`'s stdin: the plugin
// object plus the list's "name" and "cniVersion", and "prevResult" when
// `prev_result` is not null (spec: ADD passes the previous plugin's result,
// CHECK and DEL pass the result of the list's ADD).
nlohmann::json PluginInput(const NetworkList& list, size_t index,
                           const nlohmann::json& prev_result);

}  // namespace zlayer::agent::network::cni
