// A named pipe that holds readers until the test releases them.
//
// The gate keeps the FIFO open for reading and writing, so a process that
// opens it for reading (e.g. `cat GATE`) gets in at once and then blocks on
// read. Release() closes the test's end: every reader that has the FIFO open
// sees end-of-file at the same moment and exits. Wait until the readers you
// care about have it open (HeldOpenBy) before releasing, or a late reader
// blocks in open() forever.
#pragma once

#include <sys/types.h>

#include <string>

namespace zlayer::testing {

class FifoGate {
 public:
  // Creates the FIFO at `path`. Throws std::runtime_error on failure.
  explicit FifoGate(std::string path);
  ~FifoGate();

  FifoGate(const FifoGate&) = delete;
  FifoGate& operator=(const FifoGate&) = delete;

  const std::string& path() const { return path_; }
  // True when `pid` has the FIFO open (any of its fds points to it).
  bool HeldOpenBy(pid_t pid) const;
  // Lets every reader go. Idempotent.
  void Release();

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace zlayer::testing
