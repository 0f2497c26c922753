// When to restart a managed program, and when to give up on it.
//
// A pure object: every method takes the current time, so tests drive it with
// a table of timestamps and no real clock.
//   - Back-off starts at `initial_delay`, doubles per consecutive failure up to
//     `max_delay`, with up to `jitter_fraction` added at random.
//   - A run that lasted `stable_after` or longer resets the back-off.
//   - `failure_limit` failures inside `failure_window` mean a crash loop: give up.
#pragma once

#include <chrono>
#include <deque>
#include <functional>

namespace zlayer::init {

struct RestartPolicy {
  std::chrono::nanoseconds initial_delay = std::chrono::milliseconds(100);
  std::chrono::nanoseconds max_delay = std::chrono::seconds(30);
  std::chrono::nanoseconds stable_after = std::chrono::seconds(10);
  int failure_limit = 5;
  std::chrono::nanoseconds failure_window = std::chrono::seconds(60);
  double jitter_fraction = 0.2;
};

class RestartTracker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `random_unit` returns a number in [0, 1); it scales the jitter.
  RestartTracker(RestartPolicy policy, std::function<double()> random_unit);

  // The program was (re)started at `now`.
  void OnStarted(TimePoint now);

  struct Decision {
    bool give_up = false;
    std::chrono::nanoseconds delay{0};  // wait this long before the next start
    int failures_in_window = 0;
    std::chrono::nanoseconds ran_for{0};
  };
  // The program failed (exited, crashed, missed its watchdog or never became
  // ready) at `now`.
  Decision OnFailure(TimePoint now);

  int consecutive_failures() const { return consecutive_failures_; }

 private:
  RestartPolicy policy_;
  std::function<double()> random_unit_;
  TimePoint started_at_{};
  int consecutive_failures_ = 0;
  std::deque<TimePoint> recent_failures_;
};

}  // namespace zlayer::init
