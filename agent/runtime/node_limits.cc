#include "agent/runtime/node_limits.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "agent/spec/kernel_names.h"

namespace zlayer::runtime {

std::string RlimitType(std::string_view ulimit_name) {
  std::string type = "RLIMIT_";
  for (char c : ulimit_name) type += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return type;
}

Result<CapabilitySet> CapabilitiesFromMask(std::string_view hex) {
  uint64_t mask = 0;
  auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), mask, 16);
  if (hex.empty() || hex.size() > 16 || ec != std::errc() || end != hex.data() + hex.size()) {
    return InvalidArgumentError(fmt::format("capability mask \"{}\": expected hex digits", hex));
  }
  CapabilitySet names;
  std::span<const std::string_view> all = spec::AllCapabilities();
  for (size_t bit = 0; bit < all.size() && bit < 64; ++bit) {
    if (mask & (uint64_t{1} << bit)) names.emplace(all[bit]);
  }
  return names;
}

Result<CapabilitySet> BoundingSetFromStatus(std::string_view proc_status) {
  constexpr std::string_view kKey = "CapBnd:";
  size_t at = proc_status.find(kKey);
  while (at != std::string_view::npos && at != 0 && proc_status[at - 1] != '\n') {
    at = proc_status.find(kKey, at + 1);
  }
  if (at == std::string_view::npos) {
    return InvalidArgumentError("process status: no CapBnd line");
  }
  std::string_view rest = proc_status.substr(at + kKey.size());
  rest = rest.substr(0, rest.find('\n'));
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) {
    rest.remove_prefix(1);
  }
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.back()))) {
    rest.remove_suffix(1);
  }
  auto names = CapabilitiesFromMask(rest);
  if (!names.ok()) return names.status().Wrap("process status: CapBnd");
  return names;
}

Result<CapabilitySet> NodeCapabilities() {
  std::ifstream in("/proc/self/status");
  if (!in) return ErrnoError("read /proc/self/status");
  std::stringstream text;
  text << in.rdbuf();
  return BoundingSetFromStatus(text.str());
}

Result<RlimitMap> NodeHardLimits() {
  RlimitMap limits;
  for (std::string_view name : spec::UlimitNames()) {
    int resource = *spec::UlimitResource(name);
    struct rlimit limit {};
    if (getrlimit(static_cast<__rlimit_resource_t>(resource), &limit) != 0) {
      return ErrnoError(fmt::format("getrlimit {}", name));
    }
    limits[RlimitType(name)] = limit.rlim_max == RLIM_INFINITY ? UINT64_MAX : limit.rlim_max;
  }
  return limits;
}

}  // namespace zlayer::runtime
