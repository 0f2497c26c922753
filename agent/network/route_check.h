// The node's own IPv4 routes, to refuse address ranges that would shadow them:
// a deployment subnet or service address inside a network the node already
// reaches would make that network unreachable from the replicas (or the node).
// Pure functions over /proc/net/route's text; reading the file is the caller's.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ipv4_cidr.h"

namespace zlayer::agent::network {

struct Route {
  std::string interface;
  Ipv4Cidr destination;
};

// The routes in /proc/net/route's text (addresses in the kernel's byte order);
// malformed lines are skipped.
std::vector<Route> ParseProcRoutes(std::string_view text);

// The first route that overlaps `range`, ignoring default routes and routes on
// this node's own bridges (their names start with `own_bridge_prefix`):
// "10.200.0.0/16 on eth0". nullopt when there is none.
std::optional<std::string> OverlappingRoute(const Ipv4Cidr& range, const std::vector<Route>& routes,
                                            std::string_view own_bridge_prefix);

}  // namespace zlayer::agent::network
