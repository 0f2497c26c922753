#include "common/network_names.h"

#include <catch2/catch.hpp>

using zlayer::BridgeName;
using zlayer::BridgePrefix;
using zlayer::Ipv4Cidr;
using zlayer::NetworkTag;
using zlayer::NftTableName;

static Ipv4Cidr Cidr(const char* text) { return *Ipv4Cidr::Parse(text); }

TEST_CASE("A range's tag is the hex of its fixed leading nibbles") {
  CHECK(NetworkTag(Cidr("10.200.0.0/16")) == "0ac8");
  CHECK(NetworkTag(Cidr("10.0.0.0/8")) == "0a");
  CHECK(NetworkTag(Cidr("10.231.0.0/20")) == "0ae70");
  CHECK(NetworkTag(Cidr("0.0.0.0/0")) == "0");
}

TEST_CASE(
    "A subnet's bridge name fits the kernel's 15 characters and starts with its range's prefix") {
  const std::string bridge = BridgeName(Cidr("10.200.3.0/24"));
  CHECK(bridge == "zl0ac80300");
  CHECK(bridge.size() <= 15);
  CHECK(bridge.rfind(BridgePrefix(Cidr("10.200.0.0/16")), 0) == 0);
  CHECK(BridgeName(Cidr("10.200.255.0/24")) != BridgeName(Cidr("10.200.254.0/24")));
}

TEST_CASE("Nodes with different ranges get different nftables tables") {
  CHECK(NftTableName(Cidr("10.200.0.0/16")) == "zlayer_0ac8");
  CHECK(NftTableName(Cidr("10.231.0.0/16")) != NftTableName(Cidr("10.200.0.0/16")));
}
