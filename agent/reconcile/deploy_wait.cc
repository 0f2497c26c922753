#include "agent/reconcile/deploy_wait.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/duration.h"

namespace zlayer::reconcile {
namespace {

bool SeenReady(const ReplicaView& r, std::chrono::system_clock::time_point wall_now,
               std::chrono::nanoseconds settle) {
  if (r.state == ReplicaState::kCompleted) return true;
  if (r.state != ReplicaState::kRunning) return false;
  if (r.health) return *r.health == ReplicaHealth::kHealthy;
  return r.started_at && wall_now - *r.started_at >= settle;
}

// "replica hello-web-0 backoff, last exit 1, 3 restarts: back-off 400ms after exit 1".
std::string Describe(const ReplicaView& r) {
  std::string text = fmt::format("replica {} {}", r.id, ReplicaStateName(r.state));
  if (r.health) text += fmt::format(", {}", ReplicaHealthName(*r.health));
  if (r.exit_status) {
    text += fmt::format(", last exit {}", *r.exit_status);
    if (r.reason == "OOMKilled") text += " (OOMKilled)";
  }
  text += fmt::format(", {} restart{}", r.restarts, r.restarts == 1 ? "" : "s");
  if (!r.reason.empty() && r.reason != "OOMKilled") text += ": " + r.reason;
  return text;
}

}  // namespace

DeployWaitVerdict JudgeDeployWait(const DeploymentView* view, uint64_t generation,
                                  DeployWaitMemory& memory, SteadyTime steady_now,
                                  std::chrono::system_clock::time_point wall_now,
                                  const DeployWaitLimits& limits) {
  using Outcome = DeployWaitOutcome;
  if (view == nullptr) return {Outcome::kDeleted, "the deployment was deleted"};
  if (view->generation > generation) {
    return {Outcome::kSuperseded,
            fmt::format("generation {} replaced generation {}", view->generation, generation)};
  }
  for (const ReplicaView& r : view->replicas) {
    if (!r.current) continue;
    // Replicas made for this generation start from nothing; others (an unchanged service)
    // from where they were when the wait began.
    memory.restarts_at_start.try_emplace(r.id, r.generation >= generation ? 0 : r.restarts);
    if (SeenReady(r, wall_now, limits.settle) && memory.ever_ready.insert(r.id).second) {
      memory.last_progress = steady_now;
    }
  }
  if (view->converged && view->failure.empty()) {
    // The reconciler counts a replica without a health check as ready once it runs; a
    // process that exits at once would pass for converged. It must stay up `settle`.
    std::optional<std::chrono::nanoseconds> settling;
    for (const ReplicaView& r : view->replicas) {
      if (!r.current || r.state != ReplicaState::kRunning || r.health) continue;
      const auto up = r.started_at ? wall_now - *r.started_at : std::chrono::nanoseconds(0);
      if (up < limits.settle) {
        const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(limits.settle - up);
        settling = settling ? std::max(*settling, left) : left;
      }
    }
    if (!settling) return {Outcome::kConverged, ""};
    return {Outcome::kWaiting, "", *settling};
  }
  for (const ReplicaView& r : view->replicas) {
    if (r.current && r.state == ReplicaState::kFailed) return {Outcome::kFailed, Describe(r)};
  }
  if (!view->failure.empty()) return {Outcome::kFailed, view->failure};
  const ReplicaView* not_ready = nullptr;
  for (const ReplicaView& r : view->replicas) {
    if (!r.current || memory.ever_ready.count(r.id) > 0) continue;
    const uint32_t baseline = memory.restarts_at_start[r.id];
    const uint32_t failures = r.restarts > baseline ? r.restarts - baseline : 0;
    if (failures >= limits.max_failures_before_ready) {
      return {Outcome::kFailed,
              fmt::format("{} (failed {} times before it was ever ready)", Describe(r), failures)};
    }
    if (not_ready == nullptr && !SeenReady(r, wall_now, limits.settle)) not_ready = &r;
  }
  if (steady_now - memory.last_progress >= limits.progress_deadline) {
    std::string why;
    if (not_ready != nullptr) {
      why = Describe(*not_ready);
    } else {
      for (const ServiceView& s : view->services) {
        if (!s.message.empty()) {
          why = s.name + ": " + s.message;
          break;
        }
      }
    }
    if (why.empty()) why = "not every replica is ready";
    return {Outcome::kFailed,
            fmt::format("no progress for {}: {}", FormatDuration(limits.progress_deadline), why)};
  }
  return {Outcome::kWaiting, ""};
}

}  // namespace zlayer::reconcile
