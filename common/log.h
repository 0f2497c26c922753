// Line-oriented logging for all zlayer programs.
//
// Every line is "<program>: <level>: <message>\n", written with one write(2)
// so lines from several processes sharing a pipe do not interleave (lines up
// to PIPE_BUF bytes). The level filter comes from ZLAYER_LOG_LEVEL.
//
// Thread safety: a Logger may be used from several threads; each line is one
// write call.
#pragma once

#include <fmt/format.h>

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

 private:
  std::string program_;
  LogLevel level_;
  int fd_;
};

std::string_view LogLevelName(LogLevel level);

// Writes all of `data` to `fd`, retrying on EINTR and short writes. Returns
// false when the descriptor is gone (EPIPE, EBADF, ...).
bool WriteAll(int fd, std::string_view data);

}  // namespace zlayer
