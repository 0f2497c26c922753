#include "agent/reconcile/states.h"

namespace zlayer::reconcile {

const char* ReplicaStateName(ReplicaState state) {
  switch (state) {
    case ReplicaState::kCreated:
      return "created";
    case ReplicaState::kCreating:
      return "creating";
    case ReplicaState::kStarting:
      return "starting";
    case ReplicaState::kRunning:
      return "running";
    case ReplicaState::kBackoff:
      return "backoff";
    case ReplicaState::kExited:
      return "exited";
    case ReplicaState::kCompleted:
      return "completed";
    case ReplicaState::kFailed:
      return "failed";
    case ReplicaState::kStopping:
      return "stopping";
    case ReplicaState::kRemoving:
      return "removing";
  }
  return "unknown";
}

const char* ReplicaHealthName(ReplicaHealth health) {
  switch (health) {
    case ReplicaHealth::kStarting:
      return "starting";
    case ReplicaHealth::kHealthy:
      return "healthy";
    case ReplicaHealth::kUnhealthy:
      return "unhealthy";
  }
  return "unknown";
}

const char* RolloutStateName(RolloutState state) {
  switch (state) {
    case RolloutState::kInProgress:
      return "in_progress";
    case RolloutState::kComplete:
      return "complete";
    case RolloutState::kStopped:
      return "stopped";
  }
  return "unknown";
}

}  // namespace zlayer::reconcile
