// IPv4 prefixes in CIDR notation (ZLAYER_NETWORK_CIDR, deployment subnets).
// Plain values; copy freely.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace zlayer {

// An IPv4 prefix, e.g. 10.200.0.0/16.
struct Ipv4Cidr {
  uint32_t base = 0;  // host byte order, host bits zero
  int prefix = 0;

  // Parses "a.b.c.d/n". kInvalidArgument for a malformed text, n > 32, or host
  // bits that are set ("10.200.0.1/16").
  static Result<Ipv4Cidr> Parse(const std::string& text);
  std::string ToString() const;
  bool Contains(const Ipv4Cidr& other) const;
  bool Overlaps(const Ipv4Cidr& other) const;
  bool operator==(const Ipv4Cidr&) const = default;
};

}  // namespace zlayer
