#include "common/network_names.h"

#include <fmt/core.h>

#include <algorithm>

namespace zlayer {

std::string NetworkTag(const Ipv4Cidr& range) {
  const int nibbles = std::max(1, range.prefix / 4);
  return fmt::format("{:08x}", range.base).substr(0, nibbles);
}

std::string BridgeName(const Ipv4Cidr& subnet) { return fmt::format("zl{:08x}", subnet.base); }

std::string BridgePrefix(const Ipv4Cidr& range) { return "zl" + NetworkTag(range); }

std::string NftTableName(const Ipv4Cidr& range) { return "zlayer_" + NetworkTag(range); }

}  // namespace zlayer
