#include "agent/reconcile/restart_policy.h"

#include <algorithm>

namespace zlayer::reconcile {

bool IsPermanentFailure(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kUnimplemented:
      return true;
    case StatusCode::kResourceExhausted:
      // gRPC: "Sent message larger than max (N vs. M)", "received message
      // larger than max"; other exhaustion (space, quotas) may pass.
      return status.message().find("larger than max") != std::string::npos;
    default:
      return false;
  }
}

ReplicaRestartPolicy::ReplicaRestartPolicy(spec::RestartPolicy policy, spec::ResourceType rtype,
                                           std::function<double()> random_unit)
    : policy_(policy), rtype_(rtype), random_unit_(std::move(random_unit)) {}

void ReplicaRestartPolicy::OnStarted(SteadyTime now) { started_at_ = now; }

RestartDecision ReplicaRestartPolicy::OnStartFailed(SteadyTime now) {
  started_at_.reset();
  return OnExit(1, now);
}

RestartDecision ReplicaRestartPolicy::OnExit(uint32_t exit_status, SteadyTime now) {
  RestartDecision decision;
  if (started_at_ && now - *started_at_ >= kStableRun) consecutive_failures_ = 0;
  started_at_.reset();
  switch (policy_.kind) {
    case spec::RestartKind::kNo:
      decision.reason = "restart policy is no";
      return decision;
    case spec::RestartKind::kOnFailure:
      if (exit_status == 0) {
        decision.reason = rtype_ == spec::ResourceType::kJob ? "completed" : "exited with 0";
        return decision;
      }
      break;
    case spec::RestartKind::kAlways:
    case spec::RestartKind::kUnlessStopped:
      break;
  }
  if (policy_.max_attempts > 0 && consecutive_failures_ >= policy_.max_attempts) {
    decision.reason = "restart attempts exhausted";
    return decision;
  }
  ++consecutive_failures_;
  ++restarts_;
  decision.restart = true;
  // The first failure in a row (a crash after a stable run, or the first
  // ever) restarts at once: waiting would only add to the outage.
  if (consecutive_failures_ == 1) return decision;
  double delay = static_cast<double>(policy_.delay.count());
  const double cap = static_cast<double>(std::chrono::nanoseconds(kMaxDelay).count());
  for (uint32_t i = 2; i < consecutive_failures_ && delay < cap; ++i) delay *= 2;
  delay *= 1.0 + 0.1 * random_unit_();
  decision.delay = std::chrono::nanoseconds(static_cast<int64_t>(std::min(delay, cap)));
  return decision;
}

}  // namespace zlayer::reconcile
