#include "agent/reconcile/planner.h"

#include <algorithm>
#include <charconv>

#include "agent/reconcile/stop_signal.h"
#include "agent/spec/naming.h"

namespace zlayer::reconcile {

const char* ActionKindName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kCreate:
      return "create";
    case ActionKind::kStart:
      return "start";
    case ActionKind::kReplace:
      return "replace";
    case ActionKind::kRemove:
      return "remove";
  }
  return "?";
}

std::optional<ObservedContainer> Observe(const containerd::ContainerRecord& record,
                                         const std::optional<containerd::TaskInfo>& task) {
  auto label = [&](const char* key) -> const std::string* {
    auto it = record.labels.find(key);
    return it == record.labels.end() ? nullptr : &it->second;
  };
  const std::string* deployment = label(spec::kLabelDeployment);
  const std::string* service = label(spec::kLabelService);
  const std::string* replica = label(spec::kLabelReplica);
  if (deployment == nullptr || service == nullptr || replica == nullptr) return std::nullopt;
  ObservedContainer observed;
  observed.id = record.id;
  observed.deployment = *deployment;
  observed.service = *service;
  auto [end, ec] =
      std::from_chars(replica->data(), replica->data() + replica->size(), observed.replica);
  if (ec != std::errc() || end != replica->data() + replica->size()) return std::nullopt;
  if (const std::string* hash = label(spec::kLabelSpecHash)) observed.spec_hash = *hash;
  if (const std::string* signal = label(containerd::kLabelStopSignal)) {
    observed.recorded_stop_signal = ParseImageStopSignal(*signal);
  }
  if (task) {
    observed.has_task = true;
    observed.task_status = task->status;
    observed.pid = task->pid;
    observed.exit_status = task->exit_status;
  }
  return observed;
}

const char* UpdateStrategyName(UpdateStrategy strategy) {
  return strategy == UpdateStrategy::kRolling ? "rolling" : "stop-first";
}

StrategyChoice ChooseUpdateStrategy(const spec::Service& service) {
  for (const spec::Endpoint& endpoint : service.endpoints) {
    if (service.network_mode == spec::NetworkMode::kHost) {
      uint16_t port = endpoint.target_port != 0 ? endpoint.target_port : endpoint.port;
      return {UpdateStrategy::kStopFirst, "host port " + std::to_string(port) + " would collide"};
    }
  }
  return {UpdateStrategy::kRolling, "replicas can run side by side"};
}

bool IsRunning(const ObservedContainer& c) {
  return c.has_task && (c.task_status == containerd::TaskStatus::kRunning ||
                        c.task_status == containerd::TaskStatus::kPaused ||
                        c.task_status == containerd::TaskStatus::kPausing);
}

bool IsReady(const ObservedContainer& container, const ReplicaMemory* memory,
             const spec::Service* service, SteadyTime now) {
  if (IsRunning(container)) {
    if (memory == nullptr) return true;
    return memory->health_ok && (!memory->settles_at || *memory->settles_at <= now);
  }
  const bool job = service != nullptr && service->rtype == spec::ResourceType::kJob;
  return job && memory != nullptr && memory->exited_for_good && container.has_task &&
         container.exit_status == 0;
}

std::string ReplacementContainerId(const std::string& deployment, const std::string& service,
                                   uint32_t index, uint64_t generation,
                                   const std::string& replaced_id) {
  std::string plain = spec::ContainerId(deployment, service, index);
  if (plain != replaced_id) return plain;
  return plain + "-g" + std::to_string(generation);
}

namespace {

// Plans one service of one deployment; see the rules in planner.h.
class ServicePlanner {
 public:
  ServicePlanner(const std::string& deployment, const DesiredDeployment& desired,
                 const spec::Service& service,
                 const std::map<std::string, ObservedContainer>& observed,
                 const std::map<std::string, ReplicaMemory>& memory,
                 const std::set<std::string>& busy, SteadyTime now, const ServiceGate& gate,
                 Plan& plan)
      : deployment_(deployment),
        desired_(desired),
        service_(service),
        memory_(memory),
        busy_(busy),
        now_(now),
        gate_(gate),
        hash_(desired.service_hashes.at(service.name)),
        plan_(plan) {
    for (const auto& [id, c] : observed) {
      if (c.deployment == deployment && c.service == service.name) slots_[c.replica].push_back(&c);
    }
  }

  void Run(std::set<std::string>& wanted) {
    const uint32_t replicas = service_.scale.replicas;
    bool in_flight = false;
    std::vector<std::pair<uint32_t, const ObservedContainer*>> outdated;
    for (uint32_t index = 0; index < replicas; ++index) {
      auto found = slots_.find(index);
      if (found == slots_.end() || found->second.empty()) {
        std::string id = spec::ContainerId(deployment_, service_.name, index);
        if (busy_.count(id)) {
          in_flight = true;  // being created
        } else if (!gate_.blocked && CreateIsDue(id)) {
          Add(ActionKind::kCreate, id, index);
        }
        continue;
      }
      const auto& containers = found->second;
      for (const ObservedContainer* c : containers) wanted.insert(c->id);
      const ObservedContainer* current = nullptr;
      for (const ObservedContainer* c : containers) {
        if (c->spec_hash == hash_ && (current == nullptr || Ready(*c))) current = c;
      }
      bool busy = false;
      for (const ObservedContainer* c : containers) busy = busy || busy_.count(c->id) > 0;
      if (busy) {
        in_flight = true;
        continue;
      }
      if (current == nullptr) {
        const ObservedContainer* old = containers.front();
        if (busy_.count(ReplacementContainerId(deployment_, service_.name, index,
                                               desired_.generation, old->id))) {
          in_flight = true;  // its replacement is being created
          StartIfDue(*old);
          continue;
        }
        outdated.emplace_back(index, old);
        continue;
      }
      const bool ready = Ready(*current);
      const bool rollout_stopped = gate_.stopped_rollout_hash == hash_;
      bool has_old = containers.size() > 1;
      if (has_old && ready) {
        for (const ObservedContainer* c : containers) {
          if (c != current) Add(ActionKind::kRemove, c->id, index);
        }
        in_flight = true;  // the next slot waits until the old replica is gone
        continue;
      }
      if (has_old && rollout_stopped) {
        // The replacement never became ready: it goes, the old one serves on.
        Add(ActionKind::kRemove, current->id, index);
        for (const ObservedContainer* c : containers) {
          if (c != current) StartIfDue(*c);
        }
        continue;
      }
      StartIfDue(*current);
      for (const ObservedContainer* c : containers) {
        if (c != current) StartIfDue(*c);
      }
      if (!ready && !Done(*current)) in_flight = true;
    }
    // One outdated slot at a time, while nothing of the service is settling.
    const bool may_update = !in_flight && !gate_.blocked && gate_.stopped_rollout_hash != hash_;
    for (size_t i = 0; i < outdated.size(); ++i) {
      auto [index, old] = outdated[i];
      if (i == 0 && may_update) {
        if (ChooseUpdateStrategy(service_).strategy == UpdateStrategy::kStopFirst) {
          Add(ActionKind::kReplace, old->id, index);
        } else {
          std::string id = ReplacementContainerId(deployment_, service_.name, index,
                                                  desired_.generation, old->id);
          if (CreateIsDue(id)) Add(ActionKind::kCreate, id, index);
          StartIfDue(*old);
        }
        continue;
      }
      StartIfDue(*old);
    }
  }

 private:
  const ReplicaMemory* Memory(const std::string& id) const {
    auto it = memory_.find(id);
    return it == memory_.end() ? nullptr : &it->second;
  }
  bool Ready(const ObservedContainer& c) {
    const ReplicaMemory* m = Memory(c.id);
    if (IsRunning(c) && m != nullptr && m->settles_at && *m->settles_at > now_ &&
        (!plan_.wake_at || *m->settles_at < *plan_.wake_at)) {
      plan_.wake_at = m->settles_at;  // plan again when it has settled
    }
    return IsReady(c, m, &service_, now_);
  }
  bool Done(const ObservedContainer& c) {
    const ReplicaMemory* m = Memory(c.id);
    return !IsRunning(c) && m != nullptr && m->exited_for_good;
  }

  void Add(ActionKind kind, const std::string& id, uint32_t index) {
    plan_.actions.push_back({kind, id, deployment_, service_.name, index});
  }

  // Whether a container `id` that does not exist may be created now: not when
  // its create failed for good, nor while the back-off after a failed create runs.
  bool CreateIsDue(const std::string& id) {
    const ReplicaMemory* m = Memory(id);
    if (m == nullptr) return true;
    if (m->exited_for_good) return false;
    if (m->restart_not_before && *m->restart_not_before > now_) {
      if (!plan_.wake_at || *m->restart_not_before < *plan_.wake_at) {
        plan_.wake_at = m->restart_not_before;
      }
      return false;
    }
    return true;
  }

  // Starts a stopped container when its restart policy allows it now.
  void StartIfDue(const ObservedContainer& c) {
    if (IsRunning(c)) return;
    if (const ReplicaMemory* m = Memory(c.id)) {
      if (m->exited_for_good) return;
      if (m->restart_not_before && *m->restart_not_before > now_) {
        if (!plan_.wake_at || *m->restart_not_before < *plan_.wake_at) {
          plan_.wake_at = m->restart_not_before;
        }
        return;
      }
    }
    Add(ActionKind::kStart, c.id, c.replica);
  }

  const std::string& deployment_;
  const DesiredDeployment& desired_;
  const spec::Service& service_;
  const std::map<std::string, ReplicaMemory>& memory_;
  const std::set<std::string>& busy_;
  SteadyTime now_;
  const ServiceGate& gate_;
  const std::string& hash_;
  Plan& plan_;
  std::map<uint32_t, std::vector<const ObservedContainer*>> slots_;
};

}  // namespace

Plan PlanActions(const std::map<std::string, DesiredDeployment>& desired,
                 const std::map<std::string, ObservedContainer>& observed,
                 const std::map<std::string, ReplicaMemory>& memory,
                 const std::set<std::string>& busy, SteadyTime now,
                 const std::map<std::string, ServiceGate>& gates) {
  Plan plan;
  std::set<std::string> wanted;
  const ServiceGate open;
  for (const auto& [deployment_name, deployment] : desired) {
    for (const auto& [service_name, service] : deployment.spec.services) {
      auto gate = gates.find(deployment_name + "/" + service_name);
      ServicePlanner(deployment_name, deployment, service, observed, memory, busy, now,
                     gate == gates.end() ? open : gate->second, plan)
          .Run(wanted);
    }
  }
  std::vector<const ObservedContainer*> unwanted;
  for (const auto& [id, container] : observed) {
    if (!wanted.count(id) && !busy.count(id)) unwanted.push_back(&container);
  }
  // Highest replica index first (scale-down stops the newest replicas first).
  std::stable_sort(unwanted.begin(), unwanted.end(),
                   [](const ObservedContainer* a, const ObservedContainer* b) {
                     return a->replica > b->replica;
                   });
  for (const ObservedContainer* c : unwanted) {
    plan.actions.push_back({ActionKind::kRemove, c->id, c->deployment, c->service, c->replica});
  }
  return plan;
}

}  // namespace zlayer::reconcile
