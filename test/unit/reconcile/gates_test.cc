#include "agent/reconcile/gates.h"

#include <catch2/catch.hpp>
#include <set>

using namespace std::chrono_literals;
using namespace zlayer;
using namespace zlayer::reconcile;

namespace {
const SteadyTime t0{};

spec::Service DependsOn(std::vector<std::pair<std::string, spec::TimeoutAction>> on,
                        std::chrono::nanoseconds timeout = 10s) {
  spec::Service service;
  service.name = "web";
  for (const auto& [name, action] : on) {
    spec::Dependency d;
    d.service = name;
    d.condition = spec::DependencyCondition::kHealthy;
    d.timeout = timeout;
    d.on_timeout = action;
    service.depends.push_back(d);
  }
  return service;
}

// `met` holds the services whose dependency is met.
auto Met(std::set<std::string> met) {
  return [met](const spec::Dependency& d) { return met.count(d.service) > 0; };
}
}  // namespace

TEST_CASE("A service without dependencies is never blocked") {
  DependencyWait wait;
  auto verdict = JudgeDependencies(DependsOn({}), wait, t0, Met({}));
  CHECK_FALSE(verdict.blocked);
  CHECK_FALSE(verdict.wake_at);
  CHECK(verdict.event == DependencyEvent::kNone);
}

TEST_CASE(
    "An unmet dependency blocks until its deadline, says how long it waited, and wakes "
    "the planner at the deadline") {
  DependencyWait wait;
  auto service = DependsOn({{"db", spec::TimeoutAction::kFail}});
  auto first = JudgeDependencies(service, wait, t0, Met({}));
  CHECK(first.blocked);
  REQUIRE(first.wake_at);
  CHECK(*first.wake_at == t0 + 10s);
  auto later = JudgeDependencies(service, wait, t0 + 4s, Met({}));
  CHECK(later.blocked);
  CHECK(*later.wake_at == t0 + 10s);  // measured from the first unmet judgement
  CHECK(wait.message == "waiting for db to be healthy (4s of 10s)");
}

TEST_CASE("The first unmet dependency in spec order is the one reported") {
  DependencyWait wait;
  auto service =
      DependsOn({{"db", spec::TimeoutAction::kFail}, {"cache", spec::TimeoutAction::kFail}});
  JudgeDependencies(service, wait, t0, Met({"db"}));
  CHECK(wait.message == "waiting for cache to be healthy (0s of 10s)");
}

TEST_CASE("Met after a wait: unblocked, the wait forgotten, and said once") {
  DependencyWait wait;
  auto service = DependsOn({{"db", spec::TimeoutAction::kFail}});
  JudgeDependencies(service, wait, t0, Met({}));
  auto met = JudgeDependencies(service, wait, t0 + 2s, Met({"db"}));
  CHECK_FALSE(met.blocked);
  CHECK(met.event == DependencyEvent::kMet);
  CHECK_FALSE(wait.waiting_since);
  CHECK(wait.message.empty());
  CHECK(JudgeDependencies(service, wait, t0 + 3s, Met({"db"})).event == DependencyEvent::kNone);
}

TEST_CASE(
    "At the deadline, on_timeout decides: fail blocks for good, warn and continue start "
    "anyway and stop judging") {
  struct Case {
    spec::TimeoutAction action;
    bool blocked;
    DependencyEvent event;
  };
  const Case cases[] = {
      {spec::TimeoutAction::kFail, true, DependencyEvent::kGaveUp},
      {spec::TimeoutAction::kWarn, false, DependencyEvent::kStartedAnyway},
      {spec::TimeoutAction::kContinue, false, DependencyEvent::kNone},
  };
  for (const Case& c : cases) {
    INFO("on_timeout " << static_cast<int>(c.action));
    DependencyWait wait;
    auto service = DependsOn({{"db", c.action}});
    JudgeDependencies(service, wait, t0, Met({}));
    auto verdict = JudgeDependencies(service, wait, t0 + 10s, Met({}));
    CHECK(verdict.blocked == c.blocked);
    CHECK(verdict.event == c.event);
    CHECK(verdict.what == "db to be healthy");
    // Later judgements: fail stays blocked without a new event, warn/continue stay open
    // even though db is still not healthy.
    auto after = JudgeDependencies(service, wait, t0 + 60s, Met({}));
    CHECK(after.blocked == c.blocked);
    CHECK(after.event == DependencyEvent::kNone);
  }
  DependencyWait failed;
  auto service = DependsOn({{"db", spec::TimeoutAction::kFail}});
  JudgeDependencies(service, failed, t0, Met({}));
  JudgeDependencies(service, failed, t0 + 10s, Met({}));
  CHECK(failed.failed);
  CHECK(failed.message == "gave up waiting for db to be healthy after 10s");
  CHECK(JudgeDependencies(service, failed, t0 + 11s, Met({"db"})).blocked);  // until a new deploy
}
