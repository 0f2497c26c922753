// The states the reconciler keeps for replicas and rollouts, as enums; the
// words ("running", "in_progress", ...) appear only where they are shown: logs,
// messages, and the API's mapping to its own enums.
//
// Pure functions; thread-safe.
#pragma once

namespace zlayer::reconcile {

// Where one replica is in its life, as `zlayer ps` shows it.
enum class ReplicaState {
  kCreated,    // a container without a task that the agent did not make this run
  kCreating,   // its image is being prepared and its container created
  kStarting,   // its output is being attached and its task started
  kRunning,    // its task runs
  kBackoff,    // it stopped and its restart policy restarts it later
  kExited,     // it exited with 0 and is not restarted (a service)
  kCompleted,  // a job that exited with 0
  kFailed,     // it exited or could not start, and is not restarted
  kStopping,   // stopped to be restarted (its health check failed)
  kRemoving,   // stopped to be removed (scale-down, deletion, rollout)
};

// "created", "creating", "starting", "running", "backoff", "exited",
// "completed", "failed", "stopping", "removing".
const char* ReplicaStateName(ReplicaState state);

// What a replica's health check says about its current run (a replica without
// a health check has none: std::optional<ReplicaHealth> where it may be absent).
enum class ReplicaHealth { kStarting, kHealthy, kUnhealthy };

// "starting", "healthy", "unhealthy".
const char* ReplicaHealthName(ReplicaHealth health);

// The last rollout of a service (a spec change of a service that had replicas).
enum class RolloutState {
  kInProgress,  // replicas are being replaced one slot at a time
  kComplete,    // every slot runs the new spec and is ready
  kStopped,     // a new replica failed before it was ever ready; the old ones keep serving
};

// "in_progress", "complete", "stopped".
const char* RolloutStateName(RolloutState state);

}  // namespace zlayer::reconcile
