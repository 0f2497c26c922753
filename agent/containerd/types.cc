#include "agent/containerd/types.h"

namespace zlayer::containerd {

const char* TaskStatusName(TaskStatus status) {
  switch (status) {
    case TaskStatus::kUnknown:
      return "unknown";
    case TaskStatus::kCreated:
      return "created";
    case TaskStatus::kRunning:
      return "running";
    case TaskStatus::kStopped:
      return "stopped";
    case TaskStatus::kPaused:
      return "paused";
    case TaskStatus::kPausing:
      return "pausing";
  }
  return "unknown";
}

}  // namespace zlayer::containerd
