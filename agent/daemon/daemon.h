// zlayer-agent as a process: the composition root and its lifetime.
//
// Builds every module (containerd client, images, registry, runtime,
// reconciler, health checks, log drains), the application layer over them
// (agent/node) and the API (agent/api) over that; then runs the event loop
// until SIGTERM or SIGINT.
//
// Threads (common/executors.h): the event loop owns all state; bounded pools
// per kind of blocking work (lifecycle, images, files, queries) post results
// back to it; gRPC's own threads run the API reactions, which only post.
// The loop's lag (common/loop_lag.h) is measured while it runs and reported
// in Status.
//
// Start-up order (subscribe before you act): signals, the API socket (so
// status and health answer while containerd comes up), desired state from
// disk, the containerd connection with its event stream, adoption of running
// containers, READY=1 to the supervisor. The watchdog is fed from the loop
// itself, so a stuck loop stops the pings. containerd going away is
// reconnected with back-off; the reconciler resyncs when it is back.
//
// Shutdown (SIGTERM): stop accepting API calls, every container gets its stop
// signal at once and a grace capped to the agent's share of
// ZLAYER_STOP_TIMEOUT, SIGKILL when that ends, and every task is deleted
// (Reconciler::StopAll: the exits come from containerd's event stream, which
// is cancelled only after, and the grace timers run on the loop; no thread
// waits). Then the loop ends. Desired state stays on disk.
#pragma once

#include <memory>

#include "common/config.h"
#include "common/log.h"

namespace zlayer::agent::daemon {

class Daemon {
 public:
  // `log` must outlive the daemon.
  Daemon(NodeConfig config, Environment env, Logger& log);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until SIGTERM or SIGINT; returns the process exit code.
  int Run();

 private:
  class Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace zlayer::agent::daemon
