#include "agent/reconcile/planner.h"

#include <charconv>

#include "agent/spec/naming.h"

namespace zlayer::reconcile {

const char* ActionKindName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kCreate: return "create";
    case ActionKind::kStart: return "start";
    case ActionKind::kReplace: return "replace";
    case ActionKind::kRemove: return "remove";
  }
  return "?";
}

std::optional<ObservedContainer> Observe(const containerd::ContainerRecord& record,
                                         const std::optional<containerd::TaskInfo>& task) {
  auto label = [&](const char* key) -> const std::string* {
    auto it = record.labels.find(key);
    return it == record.labels.end() ? nullptr : &it->second;
  };
  const std::string* deployment = label(kLabelDeployment);
  const std::string* service = label(kLabelService);
  const std::string* replica = label(kLabelReplica);
  if (deployment == nullptr || service == nullptr || replica == nullptr) return std::nullopt;
  ObservedContainer observed;
  observed.id = record.id;
  observed.deployment = *deployment;
  observed.service = *service;
  auto [end, ec] = std::from_chars(replica->data(), replica->data() + replica->size(),
                                   observed.replica);
  if (ec != std::errc() || end != replica->data() + replica->size()) return std::nullopt;
  if (const std::string* hash = label(kLabelSpecHash)) observed.spec_hash = *hash;
  if (task) {
    observed.has_task = true;
    observed.task_status = task->status;
    observed.pid = task->pid;
    observed.exit_status = task->exit_status;
  }
  return observed;
}

Plan PlanActions(const std::map<std::string, DesiredDeployment>& desired,
                 const std::map<std::string, ObservedContainer>& observed,
                 const std::map<std::string, ReplicaMemory>& memory,
                 const std::set<std::string>& busy, SteadyTime now) {
  Plan plan;
  std::set<std::string> wanted;
  for (const auto& [deployment_name, deployment] : desired) {
    for (const auto& [service_name, service] : deployment.spec.services) {
      const std::string& hash = deployment.service_hashes.at(service_name);
      for (uint32_t index = 0; index < service.scale.replicas; ++index) {
        std::string id = spec::ContainerId(deployment_name, service_name, index);
        wanted.insert(id);
        if (busy.count(id)) continue;
        Action action{ActionKind::kCreate, id, deployment_name, service_name, index};
        auto found = observed.find(id);
        if (found == observed.end()) {
          plan.actions.push_back(action);
          continue;
        }
        const ObservedContainer& container = found->second;
        if (container.spec_hash != hash) {
          action.kind = ActionKind::kReplace;
          plan.actions.push_back(action);
          continue;
        }
        const bool running = container.has_task &&
                             (container.task_status == containerd::TaskStatus::kRunning ||
                              container.task_status == containerd::TaskStatus::kPaused ||
                              container.task_status == containerd::TaskStatus::kPausing);
        if (running) continue;
        auto remembered = memory.find(id);
        if (remembered != memory.end()) {
          if (remembered->second.exited_for_good) continue;
          if (remembered->second.restart_not_before &&
              *remembered->second.restart_not_before > now) {
            if (!plan.wake_at || *remembered->second.restart_not_before < *plan.wake_at) {
              plan.wake_at = remembered->second.restart_not_before;
            }
            continue;
          }
        }
        action.kind = ActionKind::kStart;
        plan.actions.push_back(action);
      }
    }
  }
  for (const auto& [id, container] : observed) {
    if (wanted.count(id) || busy.count(id)) continue;
    plan.actions.push_back(
        {ActionKind::kRemove, id, container.deployment, container.service, container.replica});
  }
  return plan;
}

}  // namespace zlayer::reconcile
