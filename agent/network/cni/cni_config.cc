#include "agent/network/cni/cni_config.h"

namespace zlayer::agent::network::cni {

using nlohmann::json;

json NetworkList::ToJson() const {
  return json{{"cniVersion", cni_version}, {"name", name}, {"plugins", plugins}};
}

NetworkList BridgeNetworkList(const BridgeNetwork& network) {
  NetworkList list;
  list.name = network.name;
  list.plugins.push_back(json{
      {"type", "bridge"},
      {"bridge", network.bridge},
      {"isGateway", true},
      {"ipMasq", true},
      {"hairpinMode", true},
      {"ipam",
       {{"type", "host-local"},
        {"ranges", json::array({json::array({{{"subnet", network.subnet}}})})},
        {"routes", json::array({{{"dst", "0.0.0.0/0"}}})},
        {"dataDir", network.ipam_data_dir}}},
  });
  if (network.accept_forward) {
    list.plugins.push_back(json{{"type", "firewall"}, {"backend", "iptables"}});
  }
  return list;
}

NetworkList LoopbackNetworkList() {
  NetworkList list;
  list.name = "zl-loopback";
  list.plugins.push_back(json{{"type", "loopback"}});
  return list;
}

json PluginInput(const NetworkList& list, size_t index, const json& prev_result) {
  json input = list.plugins.at(index);
  input["name"] = list.name;
  input["cniVersion"] = list.cni_version;
  if (!prev_result.is_null()) input["prevResult"] = prev_result;
  return input;
}

}  // namespace zlayer::agent::network::cni
