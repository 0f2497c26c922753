// The systemd notification protocol's messages (sd_notify(3)), parsed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace zlayer::init {

// One datagram: newline-separated KEY=VALUE assignments. Keys we do not act
// on are ignored, as systemd does; malformed values leave their field unset.
struct NotifyMessage {
  bool ready = false;     // READY=1
  bool stopping = false;  // STOPPING=1
  // RELOADING=1: reloading its configuration (HAProxy -Ws at start and at
  // every reload), READY=1 follows. Not a failure and no state change.
  bool reloading = false;
  bool watchdog_ping = false;         // WATCHDOG=1
  bool watchdog_trigger = false;      // WATCHDOG=trigger: act as if the watchdog expired
  bool barrier = false;               // BARRIER=1 (the sender waits for its fd to be closed)
  std::optional<std::string> status;  // STATUS=...
  std::optional<std::chrono::microseconds> watchdog_usec;   // WATCHDOG_USEC=...
  std::optional<std::chrono::microseconds> extend_timeout;  // EXTEND_TIMEOUT_USEC=...
  std::optional<pid_t> main_pid;                            // MAINPID=...
};

NotifyMessage ParseNotifyMessage(std::string_view datagram);

}  // namespace zlayer::init
