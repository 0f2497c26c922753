#include "supervisor/restart_tracker.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using zlayer::init::RestartPolicy;
using zlayer::init::RestartTracker;
using TimePoint = RestartTracker::TimePoint;

namespace {

RestartTracker NoJitter(RestartPolicy policy = {}) {
  return RestartTracker(policy, [] { return 0.0; });
}

// One run of the program: did it send READY=1 before it failed, and how long
// did it run.
struct Run {
  bool ready;
  std::chrono::nanoseconds ran_for = 1s;
};
constexpr Run kNeverReady{false};
constexpr Run kCrashedAfterReady{true};

std::vector<Run> Repeat(Run run, int times) { return std::vector<Run>(times, run); }
std::vector<Run> Then(std::vector<Run> a, const std::vector<Run>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Plays `runs` against a tracker, each restart after its back-off; returns the
// decisions, stopping at the first give-up.
std::vector<RestartTracker::Decision> Play(RestartTracker& tracker, const std::vector<Run>& runs) {
  std::vector<RestartTracker::Decision> decisions;
  TimePoint now{};
  for (const Run& run : runs) {
    tracker.OnStarted(now);
    if (run.ready) tracker.OnReady();
    now += run.ran_for;
    decisions.push_back(tracker.OnFailure(now));
    if (decisions.back().give_up) break;
    now += decisions.back().delay;
  }
  return decisions;
}

}  // namespace

TEST_CASE("Given a program that crashes at once, the back-off doubles from 100ms") {
  RestartPolicy policy;
  policy.start_limit = 100;
  RestartTracker tracker = NoJitter(policy);
  auto decisions = Play(tracker, Repeat(Run{false, 10ms}, 6));
  const std::chrono::nanoseconds expected[] = {100ms, 200ms, 400ms, 800ms, 1600ms, 3200ms};
  REQUIRE(decisions.size() == 6);
  for (size_t i = 0; i < decisions.size(); ++i) {
    INFO("failure " << i + 1);
    CHECK_FALSE(decisions[i].give_up);
    CHECK(decisions[i].delay == expected[i]);
  }
}

TEST_CASE("The back-off is capped at 30s however many failures came before") {
  RestartTracker tracker = NoJitter();
  auto decisions = Play(tracker, Repeat(Run{true, 1ms}, 40));
  REQUIRE(decisions.size() == 40);
  CHECK(decisions.back().delay == 30s);
}

TEST_CASE("Jitter only ever lengthens the delay, by at most the jitter fraction") {
  RestartPolicy policy;
  RestartTracker tracker(policy, [] { return 0.999; });
  tracker.OnStarted(TimePoint{});
  auto decision = tracker.OnFailure(TimePoint{} + 1ms);
  CHECK(decision.delay > 100ms);
  CHECK(decision.delay <= 120ms);
}

TEST_CASE("Jitter never pushes the delay beyond the cap") {
  RestartTracker tracker(RestartPolicy{}, [] { return 0.999; });
  auto decisions = Play(tracker, Repeat(Run{true, 1ms}, 20));
  CHECK(decisions.back().delay == 30s);
}

TEST_CASE("A run that lasted longer than the stable time resets the back-off") {
  RestartTracker tracker = NoJitter();
  auto decisions = Play(tracker, Then(Repeat(Run{true, 1ms}, 4), {Run{true, 11s}, Run{true, 1ms}}));
  REQUIRE(decisions.size() == 6);
  CHECK(decisions[3].delay == 800ms);
  CHECK(decisions[4].delay == 100ms);
  CHECK(decisions[4].failures_in_a_row == 1);
  CHECK(decisions[5].delay == 200ms);
}

TEST_CASE(
    "Becoming ready alone does not reset the back-off: a quick crash after READY=1 "
    "still waits longer each time") {
  RestartTracker tracker = NoJitter();
  auto decisions = Play(tracker, Repeat(Run{true, 300ms}, 3));
  REQUIRE(decisions.size() == 3);
  CHECK(decisions[0].delay == 100ms);
  CHECK(decisions[1].delay == 200ms);
  CHECK(decisions[2].delay == 400ms);
}

TEST_CASE("Giving up is only for a program that never reaches READY=1, N starts in a row") {
  struct Case {
    std::string what;
    int start_limit;
    std::vector<Run> runs;
    // Index of the run whose failure gives up; -1: never.
    int gives_up_at;
  };
  const std::vector<Case> cases = {
      {"five starts that never became ready", 5, Repeat(kNeverReady, 5), 4},
      {"four starts that never became ready", 5, Repeat(kNeverReady, 4), -1},
      {"twenty crashes after being ready", 5, Repeat(kCrashedAfterReady, 20), -1},
      {"a hundred crashes after being ready, limit 1", 1, Repeat(kCrashedAfterReady, 100), -1},
      {"one start that never became ready, limit 1", 1, Repeat(kNeverReady, 1), 0},
      {"four never ready, then ready once, then four never ready", 5,
       Then(Then(Repeat(kNeverReady, 4), {kCrashedAfterReady}), Repeat(kNeverReady, 4)), -1},
      {"ready once, then five never ready", 5, Then({kCrashedAfterReady}, Repeat(kNeverReady, 5)),
       5},
      {"crashes after being ready, then a run that cannot start any more", 3,
       Then(Repeat(kCrashedAfterReady, 10), Repeat(kNeverReady, 3)), 12},
      {"slow starts that never became ready (start timeout), stable or not", 3,
       Repeat(Run{false, 60s}, 3), 2},
  };
  for (const Case& c : cases) {
    SECTION(c.what) {
      RestartPolicy policy;
      policy.start_limit = c.start_limit;
      RestartTracker tracker = NoJitter(policy);
      auto decisions = Play(tracker, c.runs);
      if (c.gives_up_at < 0) {
        CHECK(decisions.size() == c.runs.size());
        CHECK_FALSE(decisions.back().give_up);
      } else {
        CHECK(decisions.size() == static_cast<size_t>(c.gives_up_at) + 1);
        CHECK(decisions.back().give_up);
      }
    }
  }
}

TEST_CASE(
    "Each decision says whether the run had been ready and counts the starts in a row "
    "without READY=1") {
  RestartTracker tracker = NoJitter();
  auto decisions = Play(tracker, {kNeverReady, kNeverReady, kCrashedAfterReady, kNeverReady});
  REQUIRE(decisions.size() == 4);
  CHECK_FALSE(decisions[0].was_ready);
  CHECK(decisions[0].starts_without_ready == 1);
  CHECK(decisions[1].starts_without_ready == 2);
  CHECK(decisions[2].was_ready);
  CHECK(decisions[2].starts_without_ready == 0);
  CHECK_FALSE(decisions[3].was_ready);
  CHECK(decisions[3].starts_without_ready == 1);
  CHECK(decisions[3].ran_for == 1s);
}
