#include "supervisor/notify_message.h"

#include <charconv>

namespace zlayer::init {
namespace {

template <typename T>
std::optional<T> ParseNumber(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

NotifyMessage ParseNotifyMessage(std::string_view datagram) {
  NotifyMessage message;
  while (!datagram.empty()) {
    size_t newline = datagram.find('\n');
    std::string_view line = datagram.substr(0, newline);
    datagram =
        newline == std::string_view::npos ? std::string_view() : datagram.substr(newline + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq);
    std::string_view value = line.substr(eq + 1);
    if (key == "READY") {
      message.ready = value == "1";
    } else if (key == "RELOADING") {
      message.reloading = value == "1";
    } else if (key == "STOPPING") {
      message.stopping = value == "1";
    } else if (key == "WATCHDOG") {
      message.watchdog_ping = value == "1";
      message.watchdog_trigger = value == "trigger";
    } else if (key == "BARRIER") {
      message.barrier = value == "1";
    } else if (key == "STATUS") {
      message.status = std::string(value);
    } else if (key == "WATCHDOG_USEC") {
      if (auto v = ParseNumber<long long>(value); v && *v > 0) {
        message.watchdog_usec = std::chrono::microseconds(*v);
      }
    } else if (key == "EXTEND_TIMEOUT_USEC") {
      if (auto v = ParseNumber<long long>(value); v && *v >= 0) {
        message.extend_timeout = std::chrono::microseconds(*v);
      }
    } else if (key == "MAINPID") {
      if (auto v = ParseNumber<pid_t>(value); v && *v > 0) message.main_pid = *v;
    }
  }
  return message;
}

}  // namespace zlayer::init
