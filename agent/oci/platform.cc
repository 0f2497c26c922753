#include "agent/oci/platform.h"

#include <fmt/format.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cctype>

namespace zlayer::oci {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The platforms a host runs, best first.
std::vector<Platform> Fallbacks(const Platform& host) {
  std::vector<Platform> out{host};
  if (host.architecture == "amd64") {
    out.push_back({host.os, "386", ""});
  } else if (host.architecture == "arm64") {
    for (const char* v : {"v8", "v7", "v6", "v5"}) out.push_back({host.os, "arm", v});
  } else if (host.architecture == "arm" && host.variant.size() == 2 && host.variant[0] == 'v') {
    for (char v = static_cast<char>(host.variant[1] - 1); v >= '5'; --v) {
      out.push_back({host.os, "arm", std::string("v") + v});
    }
  }
  return out;
}

}  // namespace

Result<Platform> ParsePlatform(std::string_view text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t slash = text.find('/', start);
    if (slash == std::string_view::npos) slash = text.size();
    parts.emplace_back(text.substr(start, slash - start));
    start = slash + 1;
  }
  bool empty_part = false;
  for (const auto& p : parts) empty_part = empty_part || p.empty();
  if (parts.size() < 2 || parts.size() > 3 || empty_part) {
    return InvalidArgumentError("invalid platform \"" + std::string(text) +
                                "\": expected os/architecture[/variant], e.g. linux/arm64");
  }
  return NormalizePlatform(Platform{parts[0], parts[1], parts.size() == 3 ? parts[2] : ""});
}

std::string PlatformString(const Platform& platform) {
  std::string out = platform.os + "/" + platform.architecture;
  if (!platform.variant.empty()) out += "/" + platform.variant;
  return out;
}

Platform NormalizePlatform(Platform p) {
  p.os = Lower(p.os);
  p.architecture = Lower(p.architecture);
  p.variant = Lower(p.variant);
  const std::string& arch = p.architecture;
  if (arch == "i386") {
    p.architecture = "386";
    p.variant = "";
  } else if (arch == "x86_64" || arch == "x86-64" || arch == "amd64") {
    p.architecture = "amd64";
    if (p.variant == "v1") p.variant = "";
  } else if (arch == "aarch64" || arch == "arm64") {
    p.architecture = "arm64";
    if (p.variant == "8" || p.variant == "v8") p.variant = "";
  } else if (arch == "armhf") {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (arch == "armel") {
    p.architecture = "arm";
    p.variant = "v6";
  } else if (arch == "arm") {
    if (p.variant.empty() || p.variant == "7") {
      p.variant = "v7";
    } else if (p.variant == "5" || p.variant == "6" || p.variant == "8") {
      p.variant = "v" + p.variant;
    }
  }
  return p;
}

Platform PlatformFromMachine(std::string_view machine) {
  std::string m = Lower(machine);
  Platform p{"linux", m, ""};
  if (m == "i486" || m == "i586" || m == "i686") {
    p.architecture = "386";
  } else if (m.rfind("armv", 0) == 0 && m.size() >= 5 && std::isdigit(m[4])) {
    // armv7l, armv6l, armv5tel: the digit is the variant; armv8l is a 32-bit
    // userland on a 64-bit core, which runs arm/v8 images.
    p.architecture = "arm";
    p.variant = std::string("v") + m[4];
  }
  return NormalizePlatform(p);
}

Result<Platform> HostPlatform() {
  struct utsname name;
  if (uname(&name) != 0) return ErrnoError("uname").Wrap("host platform");
  return PlatformFromMachine(name.machine);
}

std::optional<int> PlatformRank(const Platform& host, const Platform& candidate) {
  Platform want = NormalizePlatform(host);
  Platform have = NormalizePlatform(candidate);
  std::vector<Platform> order = Fallbacks(want);
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i] == have) return static_cast<int>(i);
  }
  return std::nullopt;
}

Result<Descriptor> ChooseManifest(const std::vector<Descriptor>& entries, const Platform& host) {
  const Descriptor* best = nullptr;
  int best_rank = 0;
  constexpr int kNoPlatform = 1 << 20;  // below every real match
  for (const Descriptor& entry : entries) {
    int rank = kNoPlatform;
    if (entry.platform) {
      std::optional<int> r = PlatformRank(host, *entry.platform);
      if (!r) continue;
      rank = *r;
    }
    if (!best || rank < best_rank) {
      best = &entry;
      best_rank = rank;
    }
  }
  if (best) return *best;
  std::string offered;
  for (const Descriptor& entry : entries) {
    if (!entry.platform) continue;
    if (!offered.empty()) offered += ", ";
    offered += PlatformString(*entry.platform);
  }
  return NotFoundError(fmt::format("no match for platform {} in index (offers {})",
                                   PlatformString(NormalizePlatform(host)),
                                   offered.empty() ? "nothing" : offered));
}

}  // namespace zlayer::oci
