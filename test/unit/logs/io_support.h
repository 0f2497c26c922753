// Helpers for tests that run a real io_context over real FIFOs.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/logs/fifo_drain.h"

namespace zlayer::testing {

// Runs handlers of `io` until `done()` or `timeout` (a failsafe, not a sleep:
// each step returns as soon as a handler ran). Returns done().
inline bool RunUntil(boost::asio::io_context& io, const std::function<bool()>& done,
                     std::chrono::seconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(50));
  }
  return true;
}

// Runs every handler that is ready now, without waiting for more.
inline void RunReady(boost::asio::io_context& io) {
  io.restart();
  io.poll();
}

class RecordingSink : public agent::logs::LogSink {
 public:
  void Write(const agent::logs::LogRecord& record) override { records.push_back(record); }
  std::vector<std::string> Texts() const {
    std::vector<std::string> texts;
    for (const auto& r : records) texts.push_back(r.text);
    return texts;
  }
  std::vector<agent::logs::LogRecord> records;
};

// The write side of a FIFO as containerd's shim holds it: a write end, plus
// a read end it never reads from, so that writes do not fail with EPIPE while
// the agent has no reader open (containerd-client-notes §9).
class ShimLikeWriter {
 public:
  explicit ShimLikeWriter(const std::string& path)
      : keep_(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)),
        fd_(::open(path.c_str(), O_WRONLY | O_CLOEXEC)) {}
  ~ShimLikeWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (keep_ >= 0) ::close(keep_);
  }
  bool ok() const { return keep_ >= 0 && fd_ >= 0; }
  bool Write(std::string_view data) {
    return ::write(fd_, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  }

 private:
  int keep_;
  int fd_;
};

}  // namespace zlayer::testing
