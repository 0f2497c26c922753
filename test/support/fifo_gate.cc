#include "test/support/fifo_gate.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <stdexcept>
#include <system_error>

#include "test/support/files.h"

namespace zlayer::testing {

FifoGate::FifoGate(std::string path) : path_(std::move(path)) {
  MakeFifo(path_);
  // O_RDWR never blocks on a FIFO and makes the test both a reader and the
  // only writer. Close-on-exec: no child may inherit the writer end.
  fd_ = open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0) {
    throw std::runtime_error("open " + path_ + ": " +
                             std::error_code(errno, std::generic_category()).message());
  }
}

FifoGate::~FifoGate() { Release(); }

bool FifoGate::HeldOpenBy(pid_t pid) const {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* fds = opendir(dir.c_str());
  if (fds == nullptr) return false;
  bool held = false;
  while (dirent* entry = readdir(fds)) {
    char target[PATH_MAX];
    ssize_t n = readlink((dir + "/" + entry->d_name).c_str(), target, sizeof target - 1);
    if (n > 0 && std::string(target, static_cast<size_t>(n)) == path_) {
      held = true;
      break;
    }
  }
  closedir(fds);
  return held;
}

void FifoGate::Release() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

}  // namespace zlayer::testing
