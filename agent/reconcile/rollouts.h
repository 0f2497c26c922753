// Rollouts (a spec change of a service that has replicas), judged purely: when
// one starts, when it is complete, when it stops, and how its new replicas are
// treated meanwhile. The planner replaces the replicas (planner.h: one slot at
// a time, rolling or stop-first); these rules only say where the rollout
// stands.
//
// Rules:
//   - A new spec of a service starts a rollout to its hash when some replica
//     runs another spec and the service is not already rolling to that hash.
//     It is then kInProgress, without a message.
//   - A rollout in progress is kComplete once the service has converged
//     (ServiceConverged) on its current spec.
//   - A rollout in progress is kStopped when one of its new replicas (running
//     its hash) fails before it was ever ready: it exits, fails to start, or
//     its health check says unhealthy. The message names the replica and why;
//     the old replicas keep serving, and no further slot is replaced until the
//     next deploy (ServiceGate::stopped_rollout_hash).
//   - A new replica of a rollout in progress without a health check counts as
//     ready only after running kRolloutSettle (Kubernetes' minReadySeconds).
//   - A new replica of a stopped rollout that was never ready is not restarted
//     when its health check fails: the planner removes it instead.
//
// The reconciler keeps one RolloutMemory per service and calls these at the
// events above; everything here is a function of its arguments (no clock, no
// I/O, no logging: the returned event says what to log).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/reconcile/restart_policy.h"
#include "agent/reconcile/states.h"

namespace zlayer::reconcile {

// How long a new replica of a rollout without a health check must keep running
// before it counts as ready.
inline constexpr std::chrono::seconds kRolloutSettle{1};

// What a service remembers about its last rollout.
struct RolloutMemory {
  std::string hash;                   // the spec hash being (or last) rolled to
  uint64_t generation = 0;            // the deployment generation that brought it
  std::optional<RolloutState> state;  // unset: the service has had no rollout
  std::string message;                // why it stopped
};

// What changed at this judgement, for the log.
enum class RolloutEvent {
  kNone,
  kStarted,   // Info: rolling out `generation`
  kComplete,  // Info
  kStopped,   // Error, with RolloutMemory::message
};

// One container of a service as the convergence rule sees it.
struct RolloutReplica {
  uint32_t slot = 0;  // its replica index
  std::string spec_hash;
  bool busy = false;           // an action on it is in flight
  bool ready = false;          // IsReady (planner.h), at the time of the judgement
  bool done_for_good = false;  // its restart policy gave up: it will not become ready
};

// A service has converged on spec `hash` when each slot below `replicas` holds
// exactly one container, no container sits in a slot at or above `replicas`,
// and every container runs `hash`, has no action in flight, and is ready or
// done for good.
bool ServiceConverged(uint32_t replicas, const std::string& hash,
                      const std::vector<RolloutReplica>& containers);

// A deploy gave the service spec `hash` (of deployment `generation`);
// `outdated` says whether some replica of the service runs another spec.
// Returns kStarted when a rollout starts (the memory then holds it).
RolloutEvent StartRollout(RolloutMemory& rollout, const std::string& hash, uint64_t generation,
                          bool outdated);

// At every plan: `converged` is ServiceConverged on the service's current
// spec. Returns kComplete when a rollout in progress completes.
RolloutEvent JudgeRolloutProgress(RolloutMemory& rollout, bool converged);

// Replica `id`, running `spec_hash`, failed before it was ever ready; `why`
// ends the message: "exited with status 1 before it was ready",
// "unhealthy: <output>", "failed: <reason>". Returns kStopped when this stops
// the rollout in progress (the message: "replica <id> <why>; old replicas keep
// serving"); kNone when the replica is not one of its new replicas.
RolloutEvent OnReplicaFailedBeforeReady(RolloutMemory& rollout, const std::string& id,
                                        const std::string& spec_hash, const std::string& why);

// A replica running `spec_hash` without a health check started at `now`: when
// it is a new replica of the rollout in progress that was never ready, it
// counts as ready from the returned time; otherwise (nullopt) at once.
std::optional<SteadyTime> ReplacementSettlesAt(const RolloutMemory& rollout,
                                               const std::string& spec_hash, bool ever_ready,
                                               SteadyTime now);

// Whether a replica running `spec_hash` is a new replica of a stopped rollout
// that was never ready: one to remove rather than restart.
bool AbandonedReplacement(const RolloutMemory& rollout, const std::string& spec_hash,
                          bool ever_ready);

}  // namespace zlayer::reconcile
