#include "common/log.h"

#include <unistd.h>

#include <cerrno>

namespace zlayer {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

void Logger::Write(LogLevel level, std::string_view message) {
  std::string line;
  line.reserve(program_.size() + message.size() + 10);
  line.append(program_).append(": ").append(LogLevelName(level)).append(": ").append(message);
  line.push_back('\n');
  WriteAll(fd_, line);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        // A non-blocking stdout that is full: wait rather than lose log lines.
        usleep(1000);
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace zlayer
