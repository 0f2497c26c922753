#include "test/support/temp_dir.h"

#include <sys/mount.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "test/support/files.h"

namespace zlayer::testing {

TempDir::TempDir() {
  char pattern[] = "/tmp/zl-XXXXXX";
  if (mkdtemp(pattern) == nullptr) {
    throw std::runtime_error(std::string("mkdtemp /tmp/zl-XXXXXX: ") +
                             std::error_code(errno, std::generic_category()).message());
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  UnmountBelow(path_);
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::Path(std::string_view relative) const {
  return path_ + "/" + std::string(relative);
}

void UnmountBelow(const std::string& dir) {
  // Field 5 of /proc/self/mountinfo is the mount point (octal escapes for
  // spaces, which our paths never contain).
  std::vector<std::string> mount_points;
  for (const std::string& line : ReadLines("/proc/self/mountinfo")) {
    std::vector<std::string> fields = SplitWords(line);
    if (fields.size() < 5) continue;
    const std::string& point = fields[4];
    if (point == dir || point.starts_with(dir + "/")) mount_points.push_back(point);
  }
  std::sort(mount_points.begin(), mount_points.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& point : mount_points) umount2(point.c_str(), MNT_DETACH);
}

}  // namespace zlayer::testing
