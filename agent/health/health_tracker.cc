#include "agent/health/health_tracker.h"

#include <algorithm>

namespace zlayer::agent::health {

const char* HealthStateName(HealthState state) {
  switch (state) {
    case HealthState::kStarting:
      return "starting";
    case HealthState::kHealthy:
      return "healthy";
    case HealthState::kUnhealthy:
      return "unhealthy";
  }
  return "unknown";
}

HealthTracker::HealthTracker(const spec::Health& health, SteadyTime start)
    : health_(health), grace_end_(start + health.start_grace), next_check_(start) {}

bool HealthTracker::OnResult(CheckResult result, SteadyTime now) {
  const HealthState before = state_;
  if (result.ok) {
    consecutive_failures_ = 0;
    state_ = HealthState::kHealthy;
  } else if (now >= grace_end_) {
    ++consecutive_failures_;
    if (consecutive_failures_ >= std::max<uint32_t>(health_.retries, 1)) {
      state_ = HealthState::kUnhealthy;
    }
  }
  if (result.output.size() > kMaxCheckOutput) result.output.resize(kMaxCheckOutput);
  history_.push_back(std::move(result));
  while (history_.size() > kHealthHistory) history_.pop_front();
  next_check_ = now + health_.interval;
  return state_ != before;
}

}  // namespace zlayer::agent::health
