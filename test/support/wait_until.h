// Polling instead of sleeping: tests wait for a condition, with a generous
// timeout that only exists so that a broken program cannot hang the suite.
#pragma once

#include <chrono>
#include <functional>

namespace zlayer::testing {

// Long enough for a loaded shared machine; reaching it means "never".
inline constexpr std::chrono::milliseconds kHangTimeout = std::chrono::seconds(20);

// Calls `condition` every `interval` until it returns true (returns true) or
// `timeout` has passed (returns false, after one last call).
bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = kHangTimeout,
               std::chrono::milliseconds interval = std::chrono::milliseconds(10));

}  // namespace zlayer::testing
