// A replica's health as a pure state machine: check results in, state out.
//
// Rules (spec-v1.md, `health`):
//   - A new run of a replica starts in kStarting.
//   - A success makes the replica kHealthy at once and resets the count of
//     consecutive failures.
//   - A failure that arrives before start + start_grace does not count.
//   - `retries` consecutive counted failures make it kUnhealthy.
// Scheduling: the first check is due at the start time; each later one is due
// `interval` after the previous result arrived (checks never overlap).
//
// The tracker reads no clock: every time comes from the caller, so tests
// drive it with tables of (result, time) rows.
//
// Thread safety: none; a plain value owned by one executor.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "agent/spec/model.h"

namespace zlayer::agent::health {

enum class HealthState { kStarting, kHealthy, kUnhealthy };

// "starting", "healthy", "unhealthy".
const char* HealthStateName(HealthState state);

// The outcome of one check.
struct CheckResult {
  bool ok = false;
  // What the check saw, for `zlayer inspect`: a connect error, an HTTP status
  // line, a command's output. Bounded by kMaxCheckOutput once recorded.
  std::string output;
  std::optional<int> exit_code;  // command checks only
  std::chrono::system_clock::time_point started;
  std::chrono::nanoseconds duration{0};
};

// Bytes of a check's output kept per result; longer output is cut there.
inline constexpr size_t kMaxCheckOutput = 4096;
// Results kept per replica, newest last.
inline constexpr size_t kHealthHistory = 5;

using SteadyTime = std::chrono::steady_clock::time_point;

class HealthTracker {
 public:
  HealthTracker(const spec::Health& health, SteadyTime start);

  // Records the result of a check that ended at `now`. Returns true when the
  // state changed.
  bool OnResult(CheckResult result, SteadyTime now);

  HealthState state() const { return state_; }
  uint32_t consecutive_failures() const { return consecutive_failures_; }
  // When the next check should start.
  SteadyTime NextCheckAt() const { return next_check_; }
  // The last kHealthHistory results, oldest first, outputs bounded.
  std::vector<CheckResult> history() const { return {history_.begin(), history_.end()}; }
  const spec::Health& health() const { return health_; }

 private:
  spec::Health health_;
  SteadyTime grace_end_;
  SteadyTime next_check_;
  HealthState state_ = HealthState::kStarting;
  uint32_t consecutive_failures_ = 0;
  std::deque<CheckResult> history_;
};

}  // namespace zlayer::agent::health
