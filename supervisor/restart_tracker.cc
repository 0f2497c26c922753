#include "supervisor/restart_tracker.h"

#include <algorithm>

namespace zlayer::init {

RestartTracker::RestartTracker(RestartPolicy policy, std::function<double()> random_unit)
    : policy_(policy), random_unit_(std::move(random_unit)) {}

void RestartTracker::OnStarted(TimePoint now) { started_at_ = now; }

RestartTracker::Decision RestartTracker::OnFailure(TimePoint now) {
  Decision decision;
  decision.ran_for = now - started_at_;
  if (decision.ran_for >= policy_.stable_after) consecutive_failures_ = 0;
  ++consecutive_failures_;

  recent_failures_.push_back(now);
  while (!recent_failures_.empty() && now - recent_failures_.front() > policy_.failure_window) {
    recent_failures_.pop_front();
  }
  decision.failures_in_window = static_cast<int>(recent_failures_.size());
  if (decision.failures_in_window >= policy_.failure_limit) {
    decision.give_up = true;
    return decision;
  }

  // initial * 2^(n-1), computed in doubles so large n cannot overflow.
  double delay = static_cast<double>(policy_.initial_delay.count());
  for (int i = 1; i < consecutive_failures_ && delay < policy_.max_delay.count(); ++i) delay *= 2;
  delay *= 1.0 + policy_.jitter_fraction * random_unit_();
  delay = std::min(delay, static_cast<double>(policy_.max_delay.count()));
  decision.delay = std::chrono::nanoseconds(static_cast<long long>(delay));
  return decision;
}

}  // namespace zlayer::init
