#include "agent/reconcile/rollouts.h"

namespace zlayer::reconcile {

bool ServiceConverged(uint32_t replicas, const std::string& hash,
                      const std::vector<RolloutReplica>& containers) {
  std::vector<int> per_slot(replicas, 0);
  for (const RolloutReplica& c : containers) {
    if (c.slot >= per_slot.size() || c.busy || c.spec_hash != hash) return false;
    if (!c.done_for_good && !c.ready) return false;
    ++per_slot[c.slot];
  }
  for (int n : per_slot) {
    if (n != 1) return false;
  }
  return true;
}

RolloutEvent StartRollout(RolloutMemory& rollout, const std::string& hash, uint64_t generation,
                          bool outdated) {
  if (!outdated || rollout.hash == hash) return RolloutEvent::kNone;
  rollout.hash = hash;
  rollout.generation = generation;
  rollout.state = RolloutState::kInProgress;
  rollout.message.clear();
  return RolloutEvent::kStarted;
}

RolloutEvent JudgeRolloutProgress(RolloutMemory& rollout, bool converged) {
  if (rollout.state != RolloutState::kInProgress || !converged) return RolloutEvent::kNone;
  rollout.state = RolloutState::kComplete;
  return RolloutEvent::kComplete;
}

RolloutEvent OnReplicaFailedBeforeReady(RolloutMemory& rollout, const std::string& id,
                                        const std::string& spec_hash, const std::string& why) {
  if (rollout.state != RolloutState::kInProgress || spec_hash != rollout.hash) {
    return RolloutEvent::kNone;
  }
  rollout.state = RolloutState::kStopped;
  rollout.message = "replica " + id + " " + why + "; old replicas keep serving";
  return RolloutEvent::kStopped;
}

std::optional<SteadyTime> ReplacementSettlesAt(const RolloutMemory& rollout,
                                               const std::string& spec_hash, bool ever_ready,
                                               SteadyTime now) {
  const bool replacement = rollout.state == RolloutState::kInProgress && spec_hash == rollout.hash;
  if (!replacement || ever_ready) return std::nullopt;
  return now + kRolloutSettle;
}

bool AbandonedReplacement(const RolloutMemory& rollout, const std::string& spec_hash,
                          bool ever_ready) {
  return rollout.state == RolloutState::kStopped && !ever_ready && spec_hash == rollout.hash;
}

}  // namespace zlayer::reconcile
