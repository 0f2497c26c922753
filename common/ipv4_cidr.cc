#include "common/ipv4_cidr.h"

#include <arpa/inet.h>
#include <fmt/core.h>

#include <charconv>

namespace zlayer {
namespace {

uint32_t Mask(int prefix) { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }

}  // namespace

Result<Ipv4Cidr> Ipv4Cidr::Parse(const std::string& text) {
  const size_t slash = text.find('/');
  auto bad = [&](const char* why) {
    return InvalidArgumentError(fmt::format("\"{}\": {}", text, why));
  };
  if (slash == std::string::npos) return bad("not a CIDR (a.b.c.d/n)");
  in_addr addr{};
  if (::inet_pton(AF_INET, text.substr(0, slash).c_str(), &addr) != 1) {
    return bad("not an IPv4 address");
  }
  int prefix = -1;
  const char* begin = text.data() + slash + 1;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, prefix);
  if (ec != std::errc() || ptr != end || begin == end || prefix < 0 || prefix > 32) {
    return bad("prefix length must be 0 to 32");
  }
  Ipv4Cidr cidr{ntohl(addr.s_addr), prefix};
  if ((cidr.base & ~Mask(prefix)) != 0) return bad("host bits are set");
  return cidr;
}

std::string Ipv4Cidr::ToString() const {
  return fmt::format("{}.{}.{}.{}/{}", base >> 24, (base >> 16) & 0xff, (base >> 8) & 0xff,
                     base & 0xff, prefix);
}

bool Ipv4Cidr::Contains(const Ipv4Cidr& other) const {
  return other.prefix >= prefix && (other.base & Mask(prefix)) == base;
}

bool Ipv4Cidr::Overlaps(const Ipv4Cidr& other) const {
  return Contains(other) || other.Contains(*this);
}

}  // namespace zlayer
