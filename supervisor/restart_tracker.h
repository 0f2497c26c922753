// When to restart a managed program, and when to give up on it.
//
// A pure object: every method takes the current time, so tests drive it with
// a table of timestamps and no real clock.
//   - Back-off starts at `initial_delay`, doubles per consecutive failure up to
//     `max_delay`, with up to `jitter_fraction` added at random (never beyond
//     `max_delay`).
//   - A run that lasted `stable_after` or longer resets the back-off.
//   - Giving up is only for a program that cannot start at all: `start_limit`
//     starts in a row that never reached READY=1. A program that fails after it
//     was ready is restarted forever: a control-plane crash loop must never
//     become a data-plane outage (the workloads run on without it).
#pragma once

#include <chrono>
#include <functional>

namespace zlayer::init {

struct RestartPolicy {
  std::chrono::nanoseconds initial_delay = std::chrono::milliseconds(100);
  std::chrono::nanoseconds max_delay = std::chrono::seconds(30);
  std::chrono::nanoseconds stable_after = std::chrono::seconds(10);
  int start_limit = 5;  // starts in a row without READY=1 before giving up
  double jitter_fraction = 0.2;
};

class RestartTracker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `random_unit` returns a number in [0, 1); it scales the jitter.
  RestartTracker(RestartPolicy policy, std::function<double()> random_unit);

  // The program was (re)started at `now`.
  void OnStarted(TimePoint now);

  // The program of the current run sent READY=1. Ends a run of starts without
  // readiness; the back-off still waits for a stable run to reset.
  void OnReady();

  struct Decision {
    // True once `start_limit` starts in a row never reached READY=1; `delay`
    // is then meaningless.
    bool give_up = false;
    bool was_ready = false;             // the failed run had sent READY=1
    int starts_without_ready = 0;       // in a row, this one included; 0 when was_ready
    int failures_in_a_row = 0;          // what the back-off counts (reset by a stable run)
    std::chrono::nanoseconds delay{0};  // wait this long before the next start
    std::chrono::nanoseconds ran_for{0};
  };
  // The program failed (exited, crashed, missed its watchdog or never became
  // ready) at `now`.
  Decision OnFailure(TimePoint now);

 private:
  RestartPolicy policy_;
  std::function<double()> random_unit_;
  TimePoint started_at_{};
  bool ready_ = false;
  int failures_in_a_row_ = 0;
  int starts_without_ready_ = 0;
};

}  // namespace zlayer::init
