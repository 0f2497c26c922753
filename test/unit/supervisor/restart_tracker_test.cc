#include "supervisor/restart_tracker.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using zlayer::init::RestartPolicy;
using zlayer::init::RestartTracker;
using TimePoint = RestartTracker::TimePoint;

namespace {
RestartTracker NoJitter(RestartPolicy policy = {}) {
  policy.jitter_fraction = 0.2;
  return RestartTracker(policy, [] { return 0.0; });
}
}  // namespace

TEST_CASE("Given a program that crashes at once, the back-off doubles from 100ms") {
  RestartPolicy policy;
  policy.failure_limit = 100;
  RestartTracker tracker = NoJitter(policy);
  TimePoint now{};
  const std::chrono::nanoseconds expected[] = {100ms, 200ms, 400ms, 800ms, 1600ms, 3200ms};
  for (auto want : expected) {
    tracker.OnStarted(now);
    now += 10ms;
    auto decision = tracker.OnFailure(now);
    REQUIRE_FALSE(decision.give_up);
    CHECK(decision.delay == want);
    now += decision.delay;
  }
}

TEST_CASE("The back-off is capped at 30s however many failures came before") {
  RestartPolicy policy;
  policy.failure_limit = 1000;
  policy.failure_window = 1s;  // keep the crash-loop rule out of the way
  RestartTracker tracker = NoJitter(policy);
  TimePoint now{};
  RestartTracker::Decision decision;
  for (int i = 0; i < 40; ++i) {
    tracker.OnStarted(now);
    now += 1ms;
    decision = tracker.OnFailure(now);
    now += decision.delay + 2s;
  }
  CHECK(decision.delay == 30s);
}

TEST_CASE("Jitter only ever lengthens the delay, by at most the jitter fraction") {
  RestartPolicy policy;
  RestartTracker tracker(policy, [] { return 0.999; });
  tracker.OnStarted(TimePoint{});
  auto decision = tracker.OnFailure(TimePoint{} + 1ms);
  CHECK(decision.delay > 100ms);
  CHECK(decision.delay <= 120ms);
}

TEST_CASE("A run that lasted longer than the stable time resets the back-off") {
  RestartPolicy policy;
  policy.failure_limit = 100;
  RestartTracker tracker = NoJitter(policy);
  TimePoint now{};
  for (int i = 0; i < 4; ++i) {
    tracker.OnStarted(now);
    now += 1ms;
    now += tracker.OnFailure(now).delay;
  }
  tracker.OnStarted(now);
  now += 11s;  // stable
  CHECK(tracker.OnFailure(now).delay == 100ms);
}

TEST_CASE("The fifth failure within 60s is a crash loop and the tracker gives up") {
  RestartTracker tracker = NoJitter();
  TimePoint now{};
  for (int i = 1; i <= 4; ++i) {
    tracker.OnStarted(now);
    now += 1s;
    auto decision = tracker.OnFailure(now);
    INFO("failure " << i);
    CHECK_FALSE(decision.give_up);
    CHECK(decision.failures_in_window == i);
  }
  tracker.OnStarted(now);
  now += 1s;
  auto decision = tracker.OnFailure(now);
  CHECK(decision.give_up);
  CHECK(decision.failures_in_window == 5);
}

TEST_CASE("Failures older than the window no longer count towards giving up") {
  RestartTracker tracker = NoJitter();
  TimePoint now{};
  for (int i = 0; i < 4; ++i) {
    tracker.OnStarted(now);
    now += 1s;
    (void)tracker.OnFailure(now);
  }
  now += 61s;
  tracker.OnStarted(now);
  now += 1s;
  auto decision = tracker.OnFailure(now);
  CHECK_FALSE(decision.give_up);
  CHECK(decision.failures_in_window == 1);
}
