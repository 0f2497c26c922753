// Names the node gives its network pieces, derived from its address ranges so
// that several nodes on one host (tests) never pick the same name, and so that
// the agent, zlayer-init (dnsmasq's interfaces) and clean-up agree without
// asking each other. Pure functions.
#pragma once

#include <string>

#include "common/ipv4_cidr.h"

namespace zlayer {

// The DNS domain under which each deployment's names live:
// <service>.<deployment>.<kClusterDomain> and <index>.<service>.<deployment>.<...>.
inline constexpr const char* kClusterDomain = "zlayer.internal";

// The hexadecimal digits of the fixed leading nibbles of `range` (at least one):
// 10.200.0.0/16 -> "0ac8", 10.0.0.0/8 -> "0a", 10.231.0.0/20 -> "0ae70".
std::string NetworkTag(const Ipv4Cidr& range);

// The Linux bridge of a deployment's subnet: "zl" and the 8 hex digits of the
// subnet's base address (10.200.3.0/24 -> "zl0ac80300"; 10 characters, within
// the kernel's 15). Every bridge of a node whose range is `range` starts with
// BridgePrefix(range).
std::string BridgeName(const Ipv4Cidr& subnet);
// "zl" + NetworkTag(range): 10.200.0.0/16 -> "zl0ac8".
std::string BridgePrefix(const Ipv4Cidr& range);

// The nftables table (family ip) holding the node's service addresses and
// isolation rules: "zlayer_" + NetworkTag(range).
std::string NftTableName(const Ipv4Cidr& range);

}  // namespace zlayer
