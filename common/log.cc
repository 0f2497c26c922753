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
  std::lock_guard lock(mu_);
  WriteLocked(line);
}

uint64_t Logger::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

bool Logger::FlushBacklogLocked() {
  while (!backlog_.empty()) {
    ssize_t n = ::write(fd_, backlog_.data(), backlog_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return false;
    if (n <= 0) {
      backlog_.clear();  // the descriptor is gone: nothing will take it
      return true;
    }
    backlog_.erase(0, static_cast<size_t>(n));
  }
  return true;
}

void Logger::WriteLocked(std::string_view line) {
  std::string report;
  if (FlushBacklogLocked() && dropped_ > 0) {
    report = fmt::format("{}: warn: {} log lines dropped: the log's reader fell behind\n", program_,
                         dropped_);
    dropped_ = 0;
  }
  for (std::string_view part : {std::string_view(report), line}) {
    if (part.empty()) continue;
    if (!backlog_.empty()) {
      // Behind lines already waiting: wait too, or drop it whole.
      if (backlog_.size() + part.size() > kMaxBacklog) {
        ++dropped_;
      } else {
        backlog_.append(part);
      }
      continue;
    }
    while (!part.empty()) {
      ssize_t n = ::write(fd_, part.data(), part.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        // The rest of a started line must follow before anything else.
        backlog_.assign(part);
        break;
      }
      if (n <= 0) break;  // the descriptor is gone
      part.remove_prefix(static_cast<size_t>(n));
    }
  }
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
