#include "agent/network/route_check.h"

#include <arpa/inet.h>

#include <bit>
#include <cstdint>
#include <sstream>

namespace zlayer::agent::network {

std::vector<Route> ParseProcRoutes(std::string_view text) {
  std::vector<Route> routes;
  std::istringstream in{std::string(text)};
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string iface, destination, gateway, flags, refcnt, use, metric, mask;
    if (!(fields >> iface >> destination >> gateway >> flags >> refcnt >> use >> metric >> mask)) {
      continue;
    }
    uint32_t dest = 0, netmask = 0;
    try {
      dest = ntohl(static_cast<uint32_t>(std::stoul(destination, nullptr, 16)));
      netmask = ntohl(static_cast<uint32_t>(std::stoul(mask, nullptr, 16)));
    } catch (...) {
      continue;
    }
    const int prefix = std::popcount(netmask);
    routes.push_back({iface, Ipv4Cidr{dest & netmask, prefix}});
  }
  return routes;
}

std::optional<std::string> OverlappingRoute(const Ipv4Cidr& range, const std::vector<Route>& routes,
                                            std::string_view own_bridge_prefix) {
  for (const Route& route : routes) {
    if (route.destination.prefix == 0) continue;  // the default route
    if (!own_bridge_prefix.empty() && route.interface.starts_with(own_bridge_prefix)) continue;
    if (route.destination.Overlaps(range)) {
      return route.destination.ToString() + " on " + route.interface;
    }
  }
  return std::nullopt;
}

}  // namespace zlayer::agent::network
