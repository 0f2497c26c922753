#include "agent/health/health_tracker.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using namespace zlayer;
using namespace zlayer::agent::health;

namespace {
const SteadyTime t0{};

spec::Health Health(std::chrono::nanoseconds grace, uint32_t retries,
                    std::chrono::nanoseconds interval = 1s) {
  spec::Health h;
  h.start_grace = grace;
  h.retries = retries;
  h.interval = interval;
  return h;
}

CheckResult Ok() { return CheckResult{true, "ok", std::nullopt, {}, 0ns}; }
CheckResult Fail() { return CheckResult{false, "refused", std::nullopt, {}, 0ns}; }
}  // namespace

TEST_CASE("A new replica starts in 'starting' and its first check is due at once") {
  HealthTracker tracker(Health(5s, 3), t0);
  CHECK(tracker.state() == HealthState::kStarting);
  CHECK(tracker.NextCheckAt() == t0);
  CHECK(tracker.history().empty());
}

TEST_CASE("Given a sequence of results, the tracker walks the states as spec-v1 says") {
  struct Row {
    bool ok;
    std::chrono::seconds at;  // since start
    HealthState state;
    uint32_t failures;
    bool changed;
  };
  struct Case {
    const char* name;
    uint32_t retries;
    std::vector<Row> rows;
  };
  const auto S = HealthState::kStarting, H = HealthState::kHealthy, U = HealthState::kUnhealthy;
  // start_grace is 5s in every case.
  const Case cases[] = {
      {"failures inside start_grace do not count",
       2,
       {{false, 1s, S, 0, false},
        {false, 4s, S, 0, false},
        {false, 5s, S, 1, false},
        {false, 6s, U, 2, true}}},
      {"a success during the grace makes it healthy at once",
       3,
       {{false, 1s, S, 0, false}, {true, 2s, H, 0, true}}},
      {"retries consecutive failures make a healthy replica unhealthy",
       3,
       {{true, 1s, H, 0, true},
        {false, 6s, H, 1, false},
        {false, 7s, H, 2, false},
        {false, 8s, U, 3, true},
        {false, 9s, U, 4, false}}},
      {"a success in between resets the count",
       2,
       {{true, 6s, H, 0, true},
        {false, 7s, H, 1, false},
        {true, 8s, H, 0, false},
        {false, 9s, H, 1, false},
        {false, 10s, U, 2, true}}},
      {"a success makes an unhealthy replica healthy again",
       1,
       {{false, 6s, U, 1, true}, {true, 7s, H, 0, true}}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    HealthTracker tracker(Health(5s, c.retries), t0);
    int row_number = 0;
    for (const Row& row : c.rows) {
      INFO("row " << row_number++);
      CHECK(tracker.OnResult(row.ok ? Ok() : Fail(), t0 + row.at) == row.changed);
      CHECK(tracker.state() == row.state);
      CHECK(tracker.consecutive_failures() == row.failures);
    }
  }
}

TEST_CASE("The next check is due one interval after the last result arrived") {
  HealthTracker tracker(Health(0s, 3, 2s), t0);
  tracker.OnResult(Fail(), t0 + 300ms);
  CHECK(tracker.NextCheckAt() == t0 + 2300ms);
}

TEST_CASE("History keeps the last five results, oldest first, with outputs cut at 4 KiB") {
  HealthTracker tracker(Health(0s, 3), t0);
  for (int i = 0; i < 7; ++i) {
    CheckResult r = Fail();
    r.output = std::to_string(i);
    tracker.OnResult(r, t0 + std::chrono::seconds(i));
  }
  CheckResult big = Ok();
  big.output = std::string(10000, 'x');
  tracker.OnResult(big, t0 + 10s);
  const auto history = tracker.history();
  REQUIRE(history.size() == kHealthHistory);
  CHECK(history.front().output == "3");
  CHECK(history.back().output.size() == kMaxCheckOutput);
}

TEST_CASE("State names are the words inspect shows") {
  CHECK(std::string(HealthStateName(HealthState::kStarting)) == "starting");
  CHECK(std::string(HealthStateName(HealthState::kHealthy)) == "healthy");
  CHECK(std::string(HealthStateName(HealthState::kUnhealthy)) == "unhealthy");
}
