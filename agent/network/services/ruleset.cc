#include "agent/network/services/ruleset.h"

#include <fmt/core.h>

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "common/ipv4_cidr.h"

namespace zlayer::agent::network::services {
namespace {

bool IsName(const std::string& name) {
  if (name.empty() || name.size() > 63 || name[0] == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool IsTableName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// The address in host byte order, for sorting; nullopt for a bad text.
std::optional<uint32_t> ParseAddress(const std::string& text) {
  if (text.find('/') != std::string::npos) return std::nullopt;
  auto cidr = Ipv4Cidr::Parse(text + "/32");
  if (!cidr.ok()) return std::nullopt;
  return cidr->base;
}

struct Port {
  Protocol protocol;
  uint16_t port;
  uint16_t target_port;
  bool operator<(const Port& other) const {
    return std::tie(protocol, port) < std::tie(other.protocol, other.port);
  }
};

// A ServiceRoute checked and in canonical order.
struct Route {
  std::string deployment, service, address;
  std::set<Port> ports;
  std::vector<std::string> backends;  // sorted by address, no duplicates
};

// One chain per service port: the deployment and service names cannot hold
// '_', so the name is unique.
std::string ChainName(const Route& route, const Port& port) {
  return fmt::format("svc_{}_{}_{}_{}", route.deployment, route.service,
                     ProtocolName(port.protocol), port.port);
}

Result<Route> Check(const ServiceRoute& in) {
  const std::string what = fmt::format("service {}/{}", in.deployment, in.service);
  if (!IsName(in.deployment) || !IsName(in.service)) {
    return InvalidArgumentError(
        fmt::format("{}: names must match [a-z0-9][a-z0-9-]{{0,62}}", what));
  }
  if (!ParseAddress(in.address)) {
    return InvalidArgumentError(
        fmt::format("{}: address \"{}\" is not an IPv4 address", what, in.address));
  }
  Route route{in.deployment, in.service, in.address, {}, {}};
  for (const ServicePort& p : in.ports) {
    if (p.port == 0 || p.target_port == 0) {
      return InvalidArgumentError(
          fmt::format("{}: port {} -> {}: ports are 1 to 65535", what, p.port, p.target_port));
    }
    if (!route.ports.insert(Port{p.protocol, p.port, p.target_port}).second) {
      return InvalidArgumentError(
          fmt::format("{}: {} port {} is given twice", what, ProtocolName(p.protocol), p.port));
    }
  }
  std::map<uint32_t, std::string> backends;
  for (const std::string& backend : in.backends) {
    auto address = ParseAddress(backend);
    if (!address) {
      return InvalidArgumentError(
          fmt::format("{}: backend \"{}\" is not an IPv4 address", what, backend));
    }
    backends.emplace(*address, backend);
  }
  for (auto& [address, text] : backends) route.backends.push_back(text);
  return route;
}

std::string Elements(const std::vector<std::string>& elements, const char* indent) {
  std::string out;
  for (size_t i = 0; i < elements.size(); ++i) {
    out += fmt::format("{}{}{}", i == 0 ? "" : indent, elements[i],
                       i + 1 < elements.size() ? ",\n" : "");
  }
  return out;
}

}  // namespace

const char* ProtocolName(Protocol protocol) { return protocol == Protocol::kUdp ? "udp" : "tcp"; }

Result<std::string> RenderRuleset(const std::string& table, const NetworkRules& rules) {
  if (!IsTableName(table)) {
    return InvalidArgumentError(fmt::format("nft table \"{}\": not [A-Za-z0-9_]+", table));
  }
  // Subnets in address order, each once. Overlapping ones (left from a range
  // change) are merged by the set's auto-merge instead of failing the script.
  std::map<std::pair<uint32_t, int>, std::string> subnets;
  for (const auto& [deployment, text] : rules.subnets) {
    auto cidr = Ipv4Cidr::Parse(text);
    if (!cidr.ok()) {
      return InvalidArgumentError(
          fmt::format("subnet of deployment {}: {}", deployment, cidr.status().message()));
    }
    subnets.emplace(std::pair{cidr->base, cidr->prefix}, cidr->ToString());
  }
  std::vector<Route> routes;
  std::map<uint32_t, std::string> addresses;  // service address -> its service, sorted
  for (const ServiceRoute& in : rules.services) {
    auto route = Check(in);
    if (!route.ok()) return route.status();
    auto [it, fresh] =
        addresses.emplace(*ParseAddress(route->address), route->deployment + "/" + route->service);
    if (!fresh) {
      return InvalidArgumentError(fmt::format("service {}/{}: address {} is also {}'s",
                                              route->deployment, route->service, route->address,
                                              it->second));
    }
    routes.push_back(std::move(*route));
  }
  std::sort(routes.begin(), routes.end(), [](const Route& a, const Route& b) {
    return std::tie(a.deployment, a.service) < std::tie(b.deployment, b.service);
  });

  std::string out = fmt::format(
      "# Generated by zlayer-agent: the node's service addresses and isolation.\n"
      "# Replaced as a whole in one transaction.\n"
      "table ip {0} {{}}\n"
      "delete table ip {0}\n"
      "table ip {0} {{\n",
      table);

  std::vector<std::string> address_elements;
  for (const auto& [address, name] : addresses) {
    (void)name;
    address_elements.push_back(fmt::format("{}.{}.{}.{}", address >> 24, (address >> 16) & 0xff,
                                           (address >> 8) & 0xff, address & 0xff));
  }
  out += "\t# Every service address; what is still addressed to one after DNAT is refused.\n";
  out += "\tset service_addresses {\n\t\ttype ipv4_addr\n";
  if (!address_elements.empty()) {
    out += fmt::format("\t\telements = {{ {} }}\n", Elements(address_elements, "\t\t\t     "));
  }
  out += "\t}\n\n";

  std::vector<std::string> subnet_elements;
  for (const auto& [key, text] : subnets) subnet_elements.push_back(text);
  out +=
      "\tset deployment_subnets {\n\t\ttype ipv4_addr\n\t\tflags interval\n"
      "\t\tauto-merge\n";
  if (!subnet_elements.empty()) {
    out += fmt::format("\t\telements = {{ {} }}\n", Elements(subnet_elements, "\t\t\t     "));
  }
  out += "\t}\n\n";

  // Only ports with ready backends are in the map; the others fall through to the refusal.
  std::vector<std::string> port_elements;
  std::string port_chains;
  for (const Route& route : routes) {
    if (route.backends.empty()) continue;
    for (const Port& port : route.ports) {
      const std::string chain = ChainName(route, port);
      port_elements.push_back(fmt::format("{} . {} . {} : goto {}", route.address,
                                          ProtocolName(port.protocol), port.port, chain));
      std::vector<std::string> targets;
      for (size_t i = 0; i < route.backends.size(); ++i) {
        targets.push_back(fmt::format("{} : {} . {}", i, route.backends[i], port.target_port));
      }
      std::string joined;
      for (const std::string& t : targets) joined += (joined.empty() ? "" : ", ") + t;
      port_chains += fmt::format(
          "\tchain {} {{\n"
          "\t\tmeta l4proto {} dnat ip addr . port to numgen random mod {} map {{ {} }}\n"
          "\t}}\n\n",
          chain, ProtocolName(port.protocol), route.backends.size(), joined);
    }
  }
  out += "\tmap service_ports {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n";
  if (!port_elements.empty()) {
    out += fmt::format("\t\telements = {{ {} }}\n", Elements(port_elements, "\t\t\t     "));
  }
  out += "\t}\n\n";
  out += port_chains;

  out +=
      "\tchain nat_prerouting {\n"
      "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
      "\t\tip daddr . meta l4proto . th dport vmap @service_ports\n"
      "\t}\n\n"
      "\t# dstnat (-100) is not accepted by name in the output hook.\n"
      "\tchain nat_output {\n"
      "\t\ttype nat hook output priority -100; policy accept;\n"
      "\t\tip daddr . meta l4proto . th dport vmap @service_ports\n"
      "\t}\n\n"
      "\t# Hairpin: replies to a client on the backend's own subnet must come back through\n"
      "\t# the node to be un-DNAT'd.\n"
      "\tchain nat_postrouting {\n"
      "\t\ttype nat hook postrouting priority srcnat; policy accept;\n";
  for (const auto& [key, text] : subnets) {
    out += fmt::format("\t\tip saddr {0} ip daddr {0} ct status dnat masquerade\n", text);
  }
  out +=
      "\t}\n\n"
      "\tchain refuse {\n"
      "\t\tmeta l4proto tcp reject with tcp reset\n"
      "\t\treject\n"
      "\t}\n\n"
      "\t# After DNAT: no deployment reaches another's subnet, directly or through a service.\n"
      "\tchain filter_forward {\n"
      "\t\ttype filter hook forward priority filter; policy accept;\n"
      "\t\tip daddr @service_addresses goto refuse\n";
  for (const auto& [key, text] : subnets) {
    out +=
        fmt::format("\t\tip saddr {0} ip daddr != {0} ip daddr @deployment_subnets drop\n", text);
  }
  out +=
      "\t}\n\n"
      "\tchain filter_output {\n"
      "\t\ttype filter hook output priority filter; policy accept;\n"
      "\t\tip daddr @service_addresses goto refuse\n"
      "\t}\n"
      "}\n";
  return out;
}

std::string RenderDeleteTable(const std::string& table) {
  return fmt::format("table ip {0} {{}}\ndelete table ip {0}\n", table);
}

}  // namespace zlayer::agent::network::services
