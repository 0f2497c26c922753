#include "agent/reconcile/deploy_wait.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using namespace zlayer::reconcile;
using WallTime = std::chrono::system_clock::time_point;

namespace {

const SteadyTime kAccepted = SteadyTime(1000s);
const WallTime kWall = WallTime(1'700'000'000s);

constexpr auto kRunning = ReplicaState::kRunning;
constexpr auto kBackoff = ReplicaState::kBackoff;
constexpr auto kFailed = ReplicaState::kFailed;
constexpr std::optional<ReplicaHealth> kNoCheck;
constexpr auto kStarting = ReplicaHealth::kStarting;
constexpr auto kHealthy = ReplicaHealth::kHealthy;
constexpr auto kUnhealthy = ReplicaHealth::kUnhealthy;

ReplicaView Replica(ReplicaState state, uint32_t restarts,
                    std::optional<ReplicaHealth> health = kNoCheck,
                    std::chrono::nanoseconds running_for = 0s) {
  ReplicaView r;
  r.id = "hello-web-0";
  r.deployment = "hello";
  r.service = "web";
  r.state = state;
  r.restarts = restarts;
  r.health = health;
  r.generation = 2;
  if (state == kRunning) r.started_at = kWall - running_for;
  if (restarts > 0) r.exit_status = 1;
  return r;
}

DeploymentView Deployment(std::vector<ReplicaView> replicas, bool converged = false,
                          uint64_t generation = 2) {
  DeploymentView d;
  d.name = "hello";
  d.generation = generation;
  d.converged = converged;
  d.replicas = std::move(replicas);
  return d;
}

}  // namespace

TEST_CASE("deploy --wait ends with the first verdict that applies") {
  struct Case {
    const char* name;
    std::optional<DeploymentView> view;
    std::chrono::nanoseconds since_accepted;
    DeployWaitOutcome outcome;
    const char* message;  // a part of it
  };
  const std::vector<Case> cases = {
      {"a deleted deployment", std::nullopt, 1s, DeployWaitOutcome::kDeleted, "deleted"},
      {"a newer generation", Deployment({Replica(kRunning, 0)}, false, 3), 1s,
       DeployWaitOutcome::kSuperseded, "generation 3 replaced generation 2"},
      {"converged, the replica up for a second",
       Deployment({Replica(kRunning, 0, kNoCheck, 1s)}, true), 1s, DeployWaitOutcome::kConverged,
       ""},
      {"converged by a health check", Deployment({Replica(kRunning, 0, kHealthy, 0s)}, true), 1s,
       DeployWaitOutcome::kConverged, ""},
      {"converged as the reconciler says, but the process only just started",
       Deployment({Replica(kRunning, 0, kNoCheck, 200ms)}, true), 1s, DeployWaitOutcome::kWaiting,
       ""},
      {"a replica whose policy gave up", Deployment({Replica(kFailed, 2)}), 1s,
       DeployWaitOutcome::kFailed, "replica hello-web-0 failed, last exit 1, 2 restarts"},
      {"a stopped rollout",
       [] {
         auto d = Deployment({Replica(kRunning, 0)});
         d.failure = "web: rollout stopped: hello-web-0-g2 exited with status 1";
         return d;
       }(),
       1s, DeployWaitOutcome::kFailed, "web: rollout stopped"},
      {"three failures before ever being ready", Deployment({Replica(kBackoff, 3)}), 2s,
       DeployWaitOutcome::kFailed,
       "replica hello-web-0 backoff, last exit 1, 3 restarts (failed 3 times before it was ever "
       "ready)"},
      {"two failures: it may still come up", Deployment({Replica(kBackoff, 2)}), 2s,
       DeployWaitOutcome::kWaiting, ""},
      {"a process just started is not ready yet",
       Deployment({Replica(kRunning, 2, kNoCheck, 100ms)}), 2s, DeployWaitOutcome::kWaiting, ""},
      {"failing health checks count as failures too",
       Deployment({Replica(kRunning, 3, kUnhealthy, 5s)}), 2s, DeployWaitOutcome::kFailed,
       "failed 3 times"},
      {"no progress until the deadline", Deployment({Replica(kRunning, 0, kStarting, 1s)}), 5min,
       DeployWaitOutcome::kFailed,
       "no progress for 5m0s: replica hello-web-0 running, starting, 0 restarts"},
      {"just before the deadline", Deployment({Replica(kRunning, 0, kStarting, 1s)}), 5min - 1ms,
       DeployWaitOutcome::kWaiting, ""},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      DeployWaitMemory memory{kAccepted, {}, {}};
      auto verdict = JudgeDeployWait(c.view ? &*c.view : nullptr, 2, memory,
                                     kAccepted + c.since_accepted, kWall);
      CHECK(verdict.outcome == c.outcome);
      CHECK_THAT(verdict.message, Catch::Contains(c.message));
    }
  }
}

TEST_CASE("A wait for a replica to settle says when to look again") {
  DeployWaitMemory memory{kAccepted, {}, {}};
  auto d = Deployment({Replica(kRunning, 0, kNoCheck, 300ms)}, true);
  auto verdict = JudgeDeployWait(&d, 2, memory, kAccepted + 1s, kWall);
  CHECK(verdict.outcome == DeployWaitOutcome::kWaiting);
  CHECK(verdict.recheck_in == std::optional<std::chrono::nanoseconds>(700ms));
}

TEST_CASE(
    "A replica seen ready once no longer counts its failures, and its readiness is progress") {
  DeployWaitMemory memory{kAccepted, {}, {}};
  auto ready = Deployment({Replica(kRunning, 0, kNoCheck, 2s)});
  CHECK(JudgeDeployWait(&ready, 2, memory, kAccepted + 4min, kWall).outcome ==
        DeployWaitOutcome::kWaiting);
  CHECK(memory.last_progress == kAccepted + 4min);
  auto crashing = Deployment({Replica(kBackoff, 5)});
  // Five restarts, but after it was ready; the deadline counts from the progress.
  CHECK(JudgeDeployWait(&crashing, 2, memory, kAccepted + 8min, kWall).outcome ==
        DeployWaitOutcome::kWaiting);
  CHECK(JudgeDeployWait(&crashing, 2, memory, kAccepted + 9min, kWall).outcome ==
        DeployWaitOutcome::kFailed);
}

TEST_CASE("Replicas of an unchanged service count restarts from the start of the wait") {
  DeployWaitMemory memory{kAccepted, {}, {}};
  auto old = Replica(kBackoff, 7);
  old.generation = 1;  // made for an earlier generation, still the current spec
  auto before = Deployment({old});
  CHECK(JudgeDeployWait(&before, 2, memory, kAccepted + 1s, kWall).outcome ==
        DeployWaitOutcome::kWaiting);
  old.restarts = 10;
  auto after = Deployment({old});
  CHECK(JudgeDeployWait(&after, 2, memory, kAccepted + 2s, kWall).outcome ==
        DeployWaitOutcome::kFailed);
}

TEST_CASE("Old replicas of a rollout are not the generation waited for") {
  DeployWaitMemory memory{kAccepted, {}, {}};
  auto old = Replica(kBackoff, 9);
  old.current = false;
  auto d = Deployment({old});
  CHECK(JudgeDeployWait(&d, 2, memory, kAccepted + 1s, kWall).outcome ==
        DeployWaitOutcome::kWaiting);
}
