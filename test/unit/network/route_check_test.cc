#include "agent/network/route_check.h"

#include <catch2/catch.hpp>

namespace zlayer::agent::network {
namespace {

// As this machine's /proc/net/route reads: a default route, a bridge of this node, the
// node's own LAN 192.0.2.0/24 and a docker bridge 172.17.0.0/16.
constexpr const char* kRoutes =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "zl0ac80300\t0003C80A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";

Ipv4Cidr Cidr(const char* text) { return *Ipv4Cidr::Parse(text); }

TEST_CASE("The kernel's route table is read with its byte order") {
  std::vector<Route> routes = ParseProcRoutes(kRoutes);
  REQUIRE(routes.size() == 4);
  CHECK(routes[1].interface == "zl0ac80300");
  CHECK(routes[1].destination == Cidr("10.200.3.0/24"));
  CHECK(routes[3].destination == Cidr("172.17.0.0/16"));
}

TEST_CASE("A range inside a network the node reaches is named with that route") {
  std::vector<Route> routes = ParseProcRoutes(kRoutes);
  CHECK(OverlappingRoute(Cidr("172.17.0.0/20"), routes, "zl0ac8") == "172.17.0.0/16 on docker0");
  CHECK(OverlappingRoute(Cidr("192.0.0.0/8"), routes, "zl0ac8") == "192.0.2.0/24 on eth0");
}

TEST_CASE("The default route and the node's own bridges are no conflict") {
  std::vector<Route> routes = ParseProcRoutes(kRoutes);
  CHECK_FALSE(OverlappingRoute(Cidr("10.200.0.0/16"), routes, "zl0ac8").has_value());
  // Another node's bridges (another prefix) are.
  CHECK(OverlappingRoute(Cidr("10.200.0.0/16"), routes, "zl0ae7").has_value());
}

}  // namespace
}  // namespace zlayer::agent::network
