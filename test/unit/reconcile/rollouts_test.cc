#include "agent/reconcile/rollouts.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using namespace zlayer::reconcile;

namespace {
const SteadyTime t0{};

RolloutMemory InProgress(std::string hash = "new") {
  RolloutMemory rollout;
  rollout.hash = std::move(hash);
  rollout.generation = 2;
  rollout.state = RolloutState::kInProgress;
  return rollout;
}

RolloutMemory WithState(RolloutState state) {
  RolloutMemory rollout = InProgress();
  rollout.state = state;
  return rollout;
}

// A ready container of spec `hash` in `slot`, with no action in flight.
RolloutReplica Ready(uint32_t slot, std::string hash = "new") {
  return {slot, std::move(hash), /*busy=*/false, /*ready=*/true, /*done_for_good=*/false};
}
}  // namespace

TEST_CASE("A new spec starts a rollout only when some replica runs another spec") {
  RolloutMemory untouched;
  CHECK(StartRollout(untouched, "new", 2, /*outdated=*/false) == RolloutEvent::kNone);
  CHECK_FALSE(untouched.state);

  RolloutMemory rollout;
  CHECK(StartRollout(rollout, "new", 2, /*outdated=*/true) == RolloutEvent::kStarted);
  CHECK(rollout.state == RolloutState::kInProgress);
  CHECK(rollout.hash == "new");
  CHECK(rollout.generation == 2);
}

TEST_CASE(
    "A deploy of the spec already being rolled out does not start it again, even after it "
    "stopped") {
  RolloutMemory rollout = WithState(RolloutState::kStopped);
  rollout.message = "replica app-web-0-g2 exited with status 1 before it was ready";
  CHECK(StartRollout(rollout, "new", 3, true) == RolloutEvent::kNone);
  CHECK(rollout.state == RolloutState::kStopped);
  CHECK(rollout.generation == 2);
}

TEST_CASE("A rollout to another spec replaces a stopped one and forgets why it stopped") {
  RolloutMemory rollout = WithState(RolloutState::kStopped);
  rollout.message = "replica app-web-0-g2 unhealthy: exit 1; old replicas keep serving";
  CHECK(StartRollout(rollout, "newer", 3, true) == RolloutEvent::kStarted);
  CHECK(rollout.state == RolloutState::kInProgress);
  CHECK(rollout.hash == "newer");
  CHECK(rollout.generation == 3);
  CHECK(rollout.message.empty());
}

TEST_CASE("A rollout in progress completes once the service has converged, and says so once") {
  struct Case {
    const char* name;
    std::optional<RolloutState> before;
    bool converged;
    RolloutEvent event;
    std::optional<RolloutState> after;
  };
  const Case cases[] = {
      {"in progress, converged", RolloutState::kInProgress, true, RolloutEvent::kComplete,
       RolloutState::kComplete},
      {"in progress, not converged", RolloutState::kInProgress, false, RolloutEvent::kNone,
       RolloutState::kInProgress},
      {"already complete", RolloutState::kComplete, true, RolloutEvent::kNone,
       RolloutState::kComplete},
      {"stopped: only a new deploy moves it", RolloutState::kStopped, true, RolloutEvent::kNone,
       RolloutState::kStopped},
      {"no rollout", std::nullopt, true, RolloutEvent::kNone, std::nullopt},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    RolloutMemory rollout = InProgress();
    rollout.state = c.before;
    CHECK(JudgeRolloutProgress(rollout, c.converged) == c.event);
    CHECK(rollout.state == c.after);
  }
}

TEST_CASE(
    "A new replica that fails before it was ever ready stops the rollout in progress, and the "
    "message names it") {
  RolloutMemory rollout = InProgress();
  CHECK(OnReplicaFailedBeforeReady(rollout, "app-web-0-g2", "new",
                                   "exited with status 1 before it was ready") ==
        RolloutEvent::kStopped);
  CHECK(rollout.state == RolloutState::kStopped);
  CHECK(rollout.message ==
        "replica app-web-0-g2 exited with status 1 before it was ready; old replicas keep "
        "serving");
  // A second failure keeps the first message.
  CHECK(OnReplicaFailedBeforeReady(rollout, "app-web-1-g2", "new", "unhealthy: exit 1") ==
        RolloutEvent::kNone);
  CHECK(rollout.message.find("app-web-0-g2") != std::string::npos);
}

TEST_CASE("A failure stops nothing when it is not a new replica of a rollout in progress") {
  struct Case {
    const char* name;
    std::optional<RolloutState> state;
    const char* spec_hash;
  };
  const Case cases[] = {
      {"an old replica fails during the rollout", RolloutState::kInProgress, "old"},
      {"the rollout is complete", RolloutState::kComplete, "new"},
      {"the rollout already stopped", RolloutState::kStopped, "new"},
      {"the service never had a rollout", std::nullopt, "new"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    RolloutMemory rollout = InProgress();
    rollout.state = c.state;
    CHECK(OnReplicaFailedBeforeReady(rollout, "app-web-0", c.spec_hash, "failed: no such image") ==
          RolloutEvent::kNone);
    CHECK(rollout.state == c.state);
    CHECK(rollout.message.empty());
  }
}

TEST_CASE(
    "A new replica of a rollout in progress without a health check settles for a second; any "
    "other replica counts at once") {
  struct Case {
    const char* name;
    std::optional<RolloutState> state;
    const char* spec_hash;
    bool ever_ready;
    std::optional<SteadyTime> settles_at;
  };
  const Case cases[] = {
      {"a new replica, never ready", RolloutState::kInProgress, "new", false, t0 + 5s + 1s},
      {"a new replica that was ready before (a restart)", RolloutState::kInProgress, "new", true,
       std::nullopt},
      {"an old replica restarted during the rollout", RolloutState::kInProgress, "old", false,
       std::nullopt},
      {"after the rollout completed", RolloutState::kComplete, "new", false, std::nullopt},
      {"after the rollout stopped", RolloutState::kStopped, "new", false, std::nullopt},
      {"without a rollout", std::nullopt, "new", false, std::nullopt},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    RolloutMemory rollout = InProgress();
    rollout.state = c.state;
    CHECK(ReplacementSettlesAt(rollout, c.spec_hash, c.ever_ready, t0 + 5s) == c.settles_at);
  }
}

TEST_CASE(
    "Only a never-ready new replica of a stopped rollout is abandoned (removed rather than "
    "restarted)") {
  CHECK(AbandonedReplacement(WithState(RolloutState::kStopped), "new", false));
  CHECK_FALSE(AbandonedReplacement(WithState(RolloutState::kStopped), "new", true));
  CHECK_FALSE(AbandonedReplacement(WithState(RolloutState::kStopped), "old", false));
  CHECK_FALSE(AbandonedReplacement(WithState(RolloutState::kInProgress), "new", false));
  CHECK_FALSE(AbandonedReplacement(RolloutMemory{}, "", false));
}

TEST_CASE("A service has converged when each slot holds one ready container of its spec") {
  auto busy = Ready(1);
  busy.busy = true;
  auto starting = Ready(1);
  starting.ready = false;
  auto gave_up = Ready(1);
  gave_up.ready = false;
  gave_up.done_for_good = true;
  struct Case {
    const char* name;
    uint32_t replicas;
    std::vector<RolloutReplica> containers;
    bool converged;
  };
  const std::vector<Case> cases = {
      {"two slots, two ready containers", 2, {Ready(0), Ready(1)}, true},
      {"no replicas wanted, none there", 0, {}, true},
      {"a slot is empty", 2, {Ready(0)}, false},
      {"a slot holds an old and a new container (rolling)",
       2,
       {Ready(0), Ready(1), Ready(1, "old")},
       false},
      {"a slot holds two containers of the spec", 2, {Ready(0), Ready(1), Ready(1)}, false},
      {"a container in a slot above the scale", 1, {Ready(0), Ready(1)}, false},
      {"a container runs another spec", 2, {Ready(0), Ready(1, "old")}, false},
      {"an action is in flight", 2, {Ready(0), busy}, false},
      {"a container is not ready yet", 2, {Ready(0), starting}, false},
      {"a container whose restart policy gave up counts as settled", 2, {Ready(0), gave_up}, true},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(ServiceConverged(c.replicas, "new", c.containers) == c.converged);
  }
}
