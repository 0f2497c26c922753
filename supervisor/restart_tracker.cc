#include "supervisor/restart_tracker.h"

#include <algorithm>

namespace zlayer::init {

RestartTracker::RestartTracker(RestartPolicy policy, std::function<double()> random_unit)
    : policy_(policy), random_unit_(std::move(random_unit)) {}

void RestartTracker::OnStarted(TimePoint now) {
  started_at_ = now;
  ready_ = false;
}

void RestartTracker::OnReady() {
  ready_ = true;
  starts_without_ready_ = 0;
}

RestartTracker::Decision RestartTracker::OnFailure(TimePoint now) {
  Decision decision;
  decision.ran_for = now - started_at_;
  decision.was_ready = ready_;
  if (decision.ran_for >= policy_.stable_after) failures_in_a_row_ = 0;
  decision.failures_in_a_row = ++failures_in_a_row_;

  if (!ready_) {
    decision.starts_without_ready = ++starts_without_ready_;
    if (starts_without_ready_ >= policy_.start_limit) {
      decision.give_up = true;
      return decision;
    }
  }

  // initial * 2^(n-1), computed in doubles so large n cannot overflow.
  double delay = static_cast<double>(policy_.initial_delay.count());
  for (int i = 1; i < failures_in_a_row_ && delay < policy_.max_delay.count(); ++i) delay *= 2;
  delay *= 1.0 + policy_.jitter_fraction * random_unit_();
  delay = std::min(delay, static_cast<double>(policy_.max_delay.count()));
  decision.delay = std::chrono::nanoseconds(static_cast<long long>(delay));
  return decision;
}

}  // namespace zlayer::init
