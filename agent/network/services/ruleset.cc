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

// A PublicUdpPort checked, backends in canonical order.
struct PublicPort {
  uint16_t port, target_port;
  std::string deployment, service;
  std::vector<std::string> backends;  // sorted by address, no duplicates
};

std::string PublicChainName(const PublicPort& port) {
  return fmt::format("pub_{}_{}_udp_{}", port.deployment, port.service, port.port);
}

// Sorted by address, each once; nullopt names the bad one in `bad`.
std::optional<std::vector<std::string>> SortedBackends(const std::vector<std::string>& in,
                                                       std::string& bad) {
  std::map<uint32_t, std::string> backends;
  for (const std::string& backend : in) {
    auto address = ParseAddress(backend);
    if (!address) {
      bad = backend;
      return std::nullopt;
    }
    backends.emplace(*address, backend);
  }
  std::vector<std::string> sorted;
  for (auto& [address, text] : backends) sorted.push_back(text);
  return sorted;
}

// The public udp ports checked, sorted by port.
Result<std::vector<PublicPort>> CheckPublic(const std::vector<PublicUdpPort>& in) {
  std::map<uint16_t, PublicPort> ports;
  for (const PublicUdpPort& p : in) {
    const std::string what =
        fmt::format("public udp port {} of {}/{}", p.port, p.deployment, p.service);
    if (!IsName(p.deployment) || !IsName(p.service)) {
      return InvalidArgumentError(
          fmt::format("{}: names must match [a-z0-9][a-z0-9-]{{0,62}}", what));
    }
    if (p.port == 0 || p.target_port == 0) {
      return InvalidArgumentError(
          fmt::format("{}: port {} -> {}: ports are 1 to 65535", what, p.port, p.target_port));
    }
    std::string bad;
    auto backends = SortedBackends(p.backends, bad);
    if (!backends) {
      return InvalidArgumentError(
          fmt::format("{}: backend \"{}\" is not an IPv4 address", what, bad));
    }
    auto [it, fresh] = ports.emplace(
        p.port, PublicPort{p.port, p.target_port, p.deployment, p.service, std::move(*backends)});
    if (!fresh) {
      return InvalidArgumentError(fmt::format("{}: also claimed by {}/{}", what,
                                              it->second.deployment, it->second.service));
    }
  }
  std::vector<PublicPort> sorted;
  for (auto& [port, checked] : ports) sorted.push_back(std::move(checked));
  return sorted;
}

// "meta l4proto udp dnat ... map { 0 : a . p, 1 : b . p }"
std::string RandomDnat(Protocol protocol, const std::vector<std::string>& backends,
                       uint16_t target_port) {
  std::string joined;
  for (size_t i = 0; i < backends.size(); ++i) {
    joined += fmt::format("{}{} : {} . {}", i == 0 ? "" : ", ", i, backends[i], target_port);
  }
  return fmt::format("meta l4proto {} dnat ip addr . port to numgen random mod {} map {{ {} }}",
                     ProtocolName(protocol), backends.size(), joined);
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
  std::string bad;
  auto backends = SortedBackends(in.backends, bad);
  if (!backends) {
    return InvalidArgumentError(
        fmt::format("{}: backend \"{}\" is not an IPv4 address", what, bad));
  }
  route.backends = std::move(*backends);
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
  auto public_udp = CheckPublic(rules.public_udp);
  if (!public_udp.ok()) return public_udp.status();
  if (!rules.public_address.empty() && !ParseAddress(rules.public_address)) {
    return InvalidArgumentError(
        fmt::format("public address \"{}\" is not an IPv4 address", rules.public_address));
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
      port_chains += fmt::format("\tchain {} {{\n\t\t{}\n\t}}\n\n", chain,
                                 RandomDnat(port.protocol, route.backends, port.target_port));
    }
  }
  out += "\tmap service_ports {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n";
  if (!port_elements.empty()) {
    out += fmt::format("\t\telements = {{ {} }}\n", Elements(port_elements, "\t\t\t     "));
  }
  out += "\t}\n\n";
  out += port_chains;

  // Public udp ports: the ones with ready backends in the map, the others refused on input.
  std::vector<std::string> public_elements, served_elements, refused_elements;
  std::string public_chains;
  for (const PublicPort& port : *public_udp) {
    if (port.backends.empty()) {
      refused_elements.push_back(std::to_string(port.port));
      continue;
    }
    const std::string chain = PublicChainName(port);
    public_elements.push_back(fmt::format("{} : goto {}", port.port, chain));
    served_elements.push_back(std::to_string(port.port));
    public_chains += fmt::format("\tchain {} {{\n\t\t{}\n\t}}\n\n", chain,
                                 RandomDnat(Protocol::kUdp, port.backends, port.target_port));
  }
  out += "\t# The node's public udp ports with ready backends.\n";
  out += "\tmap public_udp_ports {\n\t\ttype inet_service : verdict\n";
  if (!public_elements.empty()) {
    out += fmt::format("\t\telements = {{ {} }}\n", Elements(public_elements, "\t\t\t     "));
  }
  out += "\t}\n\n";
  for (const auto& [name, elements] : {std::pair{"public_udp_served", &served_elements},
                                       std::pair{"public_udp_refused", &refused_elements}}) {
    out += fmt::format("\tset {} {{\n\t\ttype inet_service\n", name);
    if (!elements->empty()) {
      out += fmt::format("\t\telements = {{ {} }}\n", Elements(*elements, "\t\t\t     "));
    }
    out += "\t}\n\n";
  }
  out += public_chains;
  // A loopback public address (nodes side by side in tests) needs route_localnet: see ruleset.h.
  const bool loopback_public =
      !rules.public_address.empty() && (*ParseAddress(rules.public_address) >> 24) == 127;
  // Which destinations are the node's public ones.
  const std::string public_daddr = rules.public_address.empty()
                                       ? "ip daddr != 127.0.0.0/8 ip daddr != @deployment_subnets"
                                       : fmt::format("ip daddr {}", rules.public_address);
  out += "\tchain public_udp {\n";
  out += fmt::format("\t\t{}{} udp dport vmap @public_udp_ports\n", public_daddr,
                     rules.public_address.empty() ? " fib daddr type local" : "");
  out += "\t}\n\n";

  out +=
      "\tchain nat_prerouting {\n"
      "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
      "\t\tip daddr . meta l4proto . th dport vmap @service_ports\n"
      "\t\tmeta l4proto udp jump public_udp\n"
      "\t}\n\n"
      "\t# dstnat (-100) is not accepted by name in the output hook.\n"
      "\tchain nat_output {\n"
      "\t\ttype nat hook output priority -100; policy accept;\n"
      "\t\tip daddr . meta l4proto . th dport vmap @service_ports\n"
      "\t\tmeta l4proto udp jump public_udp\n"
      "\t}\n\n"
      "\t# Hairpin: replies to a client on the backend's own subnet must come back through\n"
      "\t# the node to be un-DNAT'd.\n"
      "\tchain nat_postrouting {\n"
      "\t\ttype nat hook postrouting priority srcnat; policy accept;\n";
  for (const auto& [key, text] : subnets) {
    out += fmt::format("\t\tip saddr {0} ip daddr {0} ct status dnat masquerade\n", text);
  }
  if (loopback_public) out += "\t\tip saddr 127.0.0.0/8 ct status dnat masquerade\n";
  out +=
      "\t}\n\n"
      "\tchain refuse {\n"
      "\t\tmeta l4proto tcp reject with tcp reset\n"
      "\t\treject\n"
      "\t}\n\n"
      "\t# After DNAT: no deployment reaches another's subnet, directly or through a service.\n"
      "\tchain filter_forward {\n"
      "\t\ttype filter hook forward priority filter; policy accept;\n"
      "\t\tip daddr @service_addresses goto refuse\n"
      "\t\tct status dnat meta l4proto udp ct original proto-dst @public_udp_served "
      "ct original ip daddr != @service_addresses accept\n";
  for (const auto& [key, text] : subnets) {
    out +=
        fmt::format("\t\tip saddr {0} ip daddr != {0} ip daddr @deployment_subnets drop\n", text);
  }
  out +=
      "\t}\n\n"
      "\tchain filter_input {\n"
      "\t\ttype filter hook input priority filter; policy accept;\n"
      "\t\t" +
      public_daddr + " udp dport @public_udp_refused reject\n" +
      (loopback_public ? "\t\tiifname != \"lo\" ip daddr 127.0.0.0/8 ct state { new, invalid, "
                         "untracked } drop\n"
                       : "") +
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
