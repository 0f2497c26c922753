// Line-oriented logging for all zlayer programs.
//
// Every line is "<program>: <level>: <message>\n", written with one write(2)
// so lines from several processes sharing a pipe do not interleave (lines up
// to PIPE_BUF bytes). The level filter comes from ZLAYER_LOG_LEVEL.
//
// Never waits: the agent logs from its event loop, and a log reader that
// falls behind (a full pipe to zlayer-init, a stopped terminal) must not stop
// the loop. On a non-blocking descriptor that is full (EAGAIN), the unwritten
// rest of a line waits in a backlog of at most kMaxBacklog bytes, written
// first by the next line; when the backlog is full, whole lines are dropped,
// counted, and reported by a "N log lines dropped" line as soon as the
// descriptor takes lines again. Lines are never torn or interleaved. (The
// alternatives were worse: sleeping until the reader catches up stalls the
// loop; a writer thread adds a thread and still needs a bound.) On a blocking
// descriptor a write blocks as the kernel decides; zlayer-init drains the
// agent's pipe continuously.
//
// Thread safety: a Logger may be used from several threads; a mutex guards
// its backlog and orders the writes.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "common/config.h"

namespace zlayer {

class Logger {
 public:
  // Writes to `fd` (stderr by default) lines prefixed with `program`.
  explicit Logger(std::string program, LogLevel level = LogLevel::kInfo, int fd = 2)
      : program_(std::move(program)), level_(level), fd_(fd) {}

  void set_level(LogLevel level) { level_ = level; }
  LogLevel level() const { return level_; }
  const std::string& program() const { return program_; }

  template <typename... Args>
  void Debug(fmt::format_string<Args...> f, Args&&... args) {
    Log(LogLevel::kDebug, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void Info(fmt::format_string<Args...> f, Args&&... args) {
    Log(LogLevel::kInfo, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void Warn(fmt::format_string<Args...> f, Args&&... args) {
    Log(LogLevel::kWarn, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void Error(fmt::format_string<Args...> f, Args&&... args) {
    Log(LogLevel::kError, f, std::forward<Args>(args)...);
  }

  template <typename... Args>
  void Log(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
    if (level < level_) return;
    Write(level, fmt::format(f, std::forward<Args>(args)...));
  }

  // Writes one already formatted message (no filtering by level).
  void Write(LogLevel level, std::string_view message);

  static constexpr size_t kMaxBacklog = 64 * 1024;
  // Lines dropped because the backlog was full, not yet reported.
  uint64_t dropped() const;

 private:
  // Writes the backlog, then `line` (or keeps it, or drops it). mu_ held.
  void WriteLocked(std::string_view line);
  // Writes as much of backlog_ as the descriptor takes; true when it is empty.
  bool FlushBacklogLocked();

  std::string program_;
  LogLevel level_;
  int fd_;
  mutable std::mutex mu_;  // guards backlog_ and dropped_, orders writes to fd_
  std::string backlog_;    // bytes of whole lines the descriptor did not take yet
  uint64_t dropped_ = 0;
};

std::string_view LogLevelName(LogLevel level);

// Writes all of `data` to `fd`, retrying on EINTR and short writes, and
// waiting on EAGAIN (for blocking callers such as the CLI; the Logger does not
// use it). Returns false when the descriptor is gone (EPIPE, EBADF, ...).
bool WriteAll(int fd, std::string_view data);

}  // namespace zlayer
