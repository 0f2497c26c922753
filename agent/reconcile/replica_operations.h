// What the reconciler asks of the outside world, in two narrow interfaces:
//   - ReplicaOperations: blocking container work in containerd (implemented
//     by agent/runtime over containerd::Client); run on the worker pool.
//   - OutputAttacher: the FIFO drains of a container (implemented by
//     agent/logs); run on the event loop.
// Fakes of both drive the reconciler's unit tests.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "agent/reconcile/planner.h"
#include "common/status.h"

namespace zlayer::reconcile {

class ReplicaOperations {
 public:
  virtual ~ReplicaOperations() = default;

  // Every container carrying our labels, with its task state.
  virtual Result<std::vector<ObservedContainer>> ObserveAll() = 0;

  // Creates container `id` for replica `replica` of `service`: the image
  // must be on the node (kNotFound naming it otherwise), its snapshot is
  // prepared, the OCI spec built, the record created with our labels. No task.
  virtual Status Create(const std::string& id, const spec::Deployment& deployment,
                        const spec::Service& service, uint32_t replica,
                        const std::string& spec_hash) = 0;

  // Creates and starts a new task for container `id` (deleting a stopped one
  // first). The container's FIFO readers must already be open (Attach).
  // Returns the task's pid.
  virtual Result<pid_t> Start(const std::string& id) = 0;

  // Sends `signal`, waits up to `grace` for the task to exit, then SIGKILLs
  // it, and deletes the task. OK when there is no task.
  virtual Status Stop(const std::string& id, int signal, std::chrono::nanoseconds grace) = 0;

  // Deletes the container, its snapshot and its state directory. OK when it
  // does not exist. The task must be gone (Stop).
  virtual Status Remove(const std::string& id) = 0;
};

class OutputAttacher {
 public:
  virtual ~OutputAttacher() = default;
  // Opens (or keeps open) the drains of container `id`'s stdout/stderr FIFOs.
  virtual Status Attach(const std::string& id) = 0;
  // Closes the drains and deletes the FIFOs and the container's logs.
  virtual void Detach(const std::string& id, bool remove_logs) = 0;
};

}  // namespace zlayer::reconcile
