// The reconciler's brain: a pure function from desired state (the specs the
// user deployed) and observed state (containers and tasks in containerd,
// plus what the agent remembers per replica) to the actions that make them
// agree. Level-triggered: called again after every change, and periodically,
// it converges whatever events were missed.
//
// Rules:
//   - Each wanted replica (deployment, service, index < replicas) has the
//     container id <deployment>-<service>-<index>.
//   - Missing container → kCreate. Container from another spec (hash
//     differs) → kReplace. Container whose task is not running → kStart when
//     the replica's restart policy allows it now, or a wake-up time when it
//     allows it later; nothing when it is done (exited for good).
//   - A container carrying our labels that no spec wants (deployment
//     deleted, service removed, index ≥ replicas) → kRemove. Containers are
//     never adopted into a spec they do not carry the labels of.
//   - A replica with an action in flight (`busy`) gets no new action.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/containerd/types.h"
#include "agent/reconcile/restart_policy.h"
#include "agent/spec/model.h"

namespace zlayer::reconcile {

// Labels on every container the agent creates.
inline constexpr const char* kLabelDeployment = "zlayer.deployment";
inline constexpr const char* kLabelService = "zlayer.service";
inline constexpr const char* kLabelReplica = "zlayer.replica";
inline constexpr const char* kLabelSpecHash = "zlayer.spec-hash";

struct DesiredDeployment {
  uint64_t generation = 0;
  spec::Deployment spec;
  std::map<std::string, std::string> service_hashes;  // service name → spec::ServiceHash
};

// One container of ours as containerd reports it.
struct ObservedContainer {
  std::string id;
  std::string deployment;
  std::string service;
  uint32_t replica = 0;
  std::string spec_hash;
  bool has_task = false;
  containerd::TaskStatus task_status = containerd::TaskStatus::kUnknown;
  pid_t pid = 0;
  uint32_t exit_status = 0;  // of a stopped task
};

// Builds an ObservedContainer from a container record and its task (if any);
// nullopt when the record lacks our labels.
std::optional<ObservedContainer> Observe(const containerd::ContainerRecord& record,
                                         const std::optional<containerd::TaskInfo>& task);

// What the agent remembers about a replica between plans.
struct ReplicaMemory {
  bool exited_for_good = false;              // restart policy said no
  std::optional<SteadyTime> restart_not_before;  // back-off in progress
};

enum class ActionKind { kCreate, kStart, kReplace, kRemove };
const char* ActionKindName(ActionKind kind);

struct Action {
  ActionKind kind = ActionKind::kCreate;
  std::string container_id;
  std::string deployment;
  std::string service;
  uint32_t replica = 0;
};

struct Plan {
  std::vector<Action> actions;
  std::optional<SteadyTime> wake_at;  // plan again then (a back-off ends)
};

Plan PlanActions(const std::map<std::string, DesiredDeployment>& desired,
                 const std::map<std::string, ObservedContainer>& observed,
                 const std::map<std::string, ReplicaMemory>& memory,
                 const std::set<std::string>& busy, SteadyTime now);

}  // namespace zlayer::reconcile
