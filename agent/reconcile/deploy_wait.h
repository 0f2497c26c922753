// `deploy --wait`: whether a deployment's new generation has become ready, can still
// become ready, or cannot. A pure decision over what the reconciler shows
// (Reconciler::Deployments()), with time injected; the API's Deploy stream asks it after
// every plan and every second, and ends the wait on any verdict but kWaiting.
//
// Rules, in order:
//   - The deployment is gone → kDeleted. Its generation moved past the one waited for
//     → kSuperseded.
//   - The reconciler says converged (every replica runs the current spec and is ready)
//     and every running replica without a health check has been up for `settle` (as a
//     rollout waits before it counts one ready) → kConverged; until then kWaiting with
//     `recheck_in` set to when the last one will have settled.
//   - A replica running the current spec is ReplicaState::kFailed (its restart policy
//     gave up, or it cannot be created), or the deployment cannot converge
//     (DeploymentView::failure: a rollout stopped, a dependency timed out) → kFailed.
//   - A replica running the current spec has failed `max_failures_before_ready` times
//     (restarts counted from the start of the wait; from 0 for replicas created for the
//     generation waited for) and was never seen ready → kFailed. "Ready" here: running
//     and healthy, or, without a health check, running for `settle` — a process that
//     exits at once is never ready, however often it is started.
//   - No progress (a replica first seen ready) for `progress_deadline` since the wait
//     began or the last progress → kFailed.
//   - Otherwise kWaiting.
// Failure messages name the replica, its state, last exit and restart count.
//
// Thread safety: a pure function; the memory belongs to the caller.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "agent/reconcile/reconciler.h"

namespace zlayer::reconcile {

struct DeployWaitLimits {
  std::chrono::nanoseconds progress_deadline = std::chrono::minutes(5);
  uint32_t max_failures_before_ready = 3;
  std::chrono::nanoseconds settle = std::chrono::seconds(1);
};

// What one wait remembers between looks. Start it with `last_progress` = when the
// deploy was accepted; JudgeDeployWait updates the rest.
struct DeployWaitMemory {
  SteadyTime last_progress;
  std::set<std::string> ever_ready;                   // replica ids seen ready
  std::map<std::string, uint32_t> restarts_at_start;  // restart count when first seen
};

enum class DeployWaitOutcome { kWaiting, kConverged, kFailed, kSuperseded, kDeleted };

struct DeployWaitVerdict {
  DeployWaitOutcome outcome = DeployWaitOutcome::kWaiting;
  std::string message;  // why, for every outcome but kWaiting and kConverged
  // With kWaiting: look again after this long even if nothing changes (a replica settles).
  std::optional<std::chrono::nanoseconds> recheck_in;
};

// `view` is the deployment as Reconciler::Deployments() shows it, nullptr when it no
// longer exists. `steady_now` drives the deadline, `wall_now` compares with the replicas'
// start times.
DeployWaitVerdict JudgeDeployWait(const DeploymentView* view, uint64_t generation,
                                  DeployWaitMemory& memory, SteadyTime steady_now,
                                  std::chrono::system_clock::time_point wall_now,
                                  const DeployWaitLimits& limits = {});

}  // namespace zlayer::reconcile
