// The client side of the systemd notification protocol (sd_notify(3)).
//
// zlayer-agent uses it to tell zlayer-init READY=1 and WATCHDOG=1; any
// program supervised by zlayer-init (or systemd) can.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "common/config.h"
#include "common/status.h"

namespace zlayer {

// Sends `state` (one or more "KEY=VALUE" lines) as one datagram to the socket
// named by NOTIFY_SOCKET in `env`. Returns OK without sending when
// NOTIFY_SOCKET is unset (not supervised); an error when the send fails.
Status SdNotify(const Environment& env, std::string_view state);

// The watchdog interval asked for by the supervisor (WATCHDOG_USEC in `env`),
// or nullopt when there is none. Send WATCHDOG=1 at about half of it.
std::optional<std::chrono::microseconds> SdWatchdogInterval(const Environment& env);

}  // namespace zlayer
