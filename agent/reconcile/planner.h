// The reconciler's brain: a pure function from desired state (the specs the
// user deployed) and observed state (containers and tasks in containerd,
// plus what the agent remembers per replica) to the actions that make them
// agree. Level-triggered: called again after every change, and periodically,
// it converges whatever events were missed.
//
// Rules, per service of every desired deployment (a "slot" is one replica
// index; containers carry their deployment, service and slot as labels, so a
// slot may hold two containers while a rolling update replaces one):
//   - An empty slot below `replicas` → kCreate `<deployment>-<service>-<index>`,
//     unless the service's dependencies block it (ServiceGate::blocked), or
//     the replica's memory says its create failed for good (exited_for_good)
//     or is backing off after a failed create (a wake-up time then).
//   - A slot whose only container has the current spec hash → kStart when its
//     task is not running and the restart policy allows it now, or a wake-up
//     time when it allows it later; nothing when it is done (exited for good).
//   - Slots whose container has another hash are updated one at a time, and
//     only while no slot of the service holds a current container that is not
//     ready yet: rolling → kCreate the replacement beside the old container;
//     stop-first → kReplace (stop, remove, create under the same id). Once the
//     replacement is ready, the old container of the slot → kRemove.
//   - A container carrying our labels that no spec wants (deployment
//     deleted, service removed, index ≥ replicas) → kRemove, highest index
//     first. Containers are never adopted into a spec they do not carry the
//     labels of.
//   - A replica with an action in flight (`busy`) gets no new action.
#pragma once

#include <chrono>
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
  // The stop signal the container was created with (containerd's
  // `io.containerd.image.config.stop-signal` label): the image's STOPSIGNAL,
  // or the service's `stop_signal` of that spec, or SIGTERM. StopSignal()
  // takes it as the image's: the service's current `stop_signal` comes first.
  std::optional<int> recorded_stop_signal;
  // When the running task started (the kernel's record of `pid`); unset when unknown.
  std::optional<std::chrono::system_clock::time_point> started_at;
};

// Builds an ObservedContainer from a container record and its task (if any);
// nullopt when the record lacks our labels (spec/naming.h).
std::optional<ObservedContainer> Observe(const containerd::ContainerRecord& record,
                                         const std::optional<containerd::TaskInfo>& task);

// What the agent remembers about a replica between plans.
struct ReplicaMemory {
  bool exited_for_good = false;                  // restart policy said no
  std::optional<SteadyTime> restart_not_before;  // back-off in progress
  // False while the replica's health check has not passed for its current run
  // (starting or unhealthy); true without a health check.
  bool health_ok = true;
  // A replacement in a rollout without a health check counts as ready only
  // once it has kept running until then (Kubernetes' minReadySeconds): a
  // replica that crashes right after its start must not pass for ready.
  std::optional<SteadyTime> settles_at;
};

// How a service's replicas are replaced when its spec changes.
enum class UpdateStrategy { kRolling, kStopFirst };
const char* UpdateStrategyName(UpdateStrategy strategy);
struct StrategyChoice {
  UpdateStrategy strategy = UpdateStrategy::kRolling;
  std::string reason;  // why, e.g. "host port 8080 would collide"
};
// Rolling (start the new replica, wait until it is ready, stop the old one)
// unless two replicas of the service cannot run side by side: containers share
// the node's network, so a service with an endpoint would bind its port twice.
StrategyChoice ChooseUpdateStrategy(const spec::Service& service);

// What the reconciler decided about a service beyond its containers.
struct ServiceGate {
  // Its dependencies are not met: no replica is created (running ones stay).
  bool blocked = false;
  // A rollout to this spec hash stopped (a new replica never became ready): no
  // further replica is replaced, and a new replica that is not ready is removed
  // so that the old one keeps serving its slot.
  std::string stopped_rollout_hash;
};

// A replica is ready when it runs and its health check passed (or it has none),
// or, for a job, when it completed.
bool IsReady(const ObservedContainer& container, const ReplicaMemory* memory,
             const spec::Service* service, SteadyTime now);
bool IsRunning(const ObservedContainer& container);

// The container ids a slot (deployment, service, index) may use: the plain
// ContainerId, and for a rolling update the replacement, which must differ from
// the container it replaces: `<id>-g<generation>` (or the plain id when free).
std::string ReplacementContainerId(const std::string& deployment, const std::string& service,
                                   uint32_t index, uint64_t generation,
                                   const std::string& replaced_id);

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

// `gates` by "<deployment>/<service>"; a service without an entry is open.
Plan PlanActions(const std::map<std::string, DesiredDeployment>& desired,
                 const std::map<std::string, ObservedContainer>& observed,
                 const std::map<std::string, ReplicaMemory>& memory,
                 const std::set<std::string>& busy, SteadyTime now,
                 const std::map<std::string, ServiceGate>& gates = {});

}  // namespace zlayer::reconcile
