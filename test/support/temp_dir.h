// A private directory for one test, with a short path (/tmp/zl-XXXXXX) so
// that Unix socket paths below it stay under the 108-byte limit.
#pragma once

#include <string>
#include <string_view>

namespace zlayer::testing {

class TempDir {
 public:
  // Creates a fresh /tmp/zl-XXXXXX. Throws std::runtime_error if it cannot.
  TempDir();
  // Unmounts whatever is still mounted below the directory, then removes the
  // tree. Errors are ignored: a destructor must not throw.
  ~TempDir();

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/relative.
  std::string Path(std::string_view relative) const;
  // The same, as `dir / "name"`.
  std::string operator/(std::string_view relative) const { return Path(relative); }

 private:
  std::string path_;
};

// Unmounts (lazily) every mount point at or below `dir`, deepest first.
void UnmountBelow(const std::string& dir);

}  // namespace zlayer::testing
