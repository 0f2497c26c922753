// Whether and when a replica whose process exited is started again: Docker's
// restart policies with Kubernetes/Nomad-style back-off.
//
// A pure object per replica, driven with explicit times (tests use tables):
//   - kind `no` never restarts; `always` and `unless_stopped` always do (the
//     node never stops a replica on its own, so they behave alike here);
//     `on_failure` restarts only after a non-zero exit.
//   - The first failure in a row restarts at once (delay 0): a replica that
//     crashes after a stable run is back as fast as containerd allows. From
//     the second failure in a row the delay is the spec's `delay` (100ms),
//     doubling per further failure, with up to 10% jitter, capped at 60s. A
//     run of 10s or longer ends the row.
//   - `max_attempts` > 0 limits consecutive restarts; then the replica stays
//     down as `failed`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "agent/spec/model.h"
#include "common/status.h"

namespace zlayer::reconcile {

using SteadyTime = std::chrono::steady_clock::time_point;

struct RestartDecision {
  bool restart = false;
  std::chrono::nanoseconds delay{0};  // when restart: wait this long
  const char* reason = "";            // when not: "policy no", "exited 0", "max attempts"
};

// Whether creating or starting a replica failed for a reason that retrying
// cannot fix: the request itself is wrong (kInvalidArgument, kOutOfRange,
// kUnimplemented) or too large to ever be sent (kResourceExhausted from gRPC's
// message size limit: "message larger than max"). Anything else (containerd
// unavailable, a pull that failed, a full disk) may pass and is retried.
bool IsPermanentFailure(const Status& status);

class ReplicaRestartPolicy {
 public:
  static constexpr std::chrono::seconds kMaxDelay{60};
  static constexpr std::chrono::seconds kStableRun{10};

  ReplicaRestartPolicy(spec::RestartPolicy policy, spec::ResourceType rtype,
                       std::function<double()> random_unit);

  void OnStarted(SteadyTime now);
  // The process exited with `exit_status` (128+N for signal N) at `now`.
  RestartDecision OnExit(uint32_t exit_status, SteadyTime now);
  // Creating or starting the replica failed (no process ran): a failure that
  // never counts as a stable run, so the back-off keeps growing.
  RestartDecision OnStartFailed(SteadyTime now);

  uint32_t restarts() const { return restarts_; }

 private:
  spec::RestartPolicy policy_;
  spec::ResourceType rtype_;
  std::function<double()> random_unit_;
  std::optional<SteadyTime> started_at_;  // of the current run; unset after an exit
  uint32_t consecutive_failures_ = 0;
  uint32_t restarts_ = 0;
};

}  // namespace zlayer::reconcile
