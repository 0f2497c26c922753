#include "agent/reconcile/reconciler.h"

#include <signal.h>

#include <boost/asio/post.hpp>

#include "agent/spec/naming.h"
#include "common/duration.h"

namespace zlayer::reconcile {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

namespace {

// Runs `work` on the pool, then `then(result)` on the loop.
template <typename Work, typename Then>
void OffLoop(asio::thread_pool& pool, asio::io_context& loop, Work work, Then then) {
  asio::post(pool, [&loop, work = std::move(work), then = std::move(then)]() mutable {
    auto result = work();
    asio::post(loop, [then = std::move(then), result = std::move(result)]() mutable {
      then(std::move(result));
    });
  });
}

bool IsRunning(const ObservedContainer& c) {
  return c.has_task && (c.task_status == containerd::TaskStatus::kRunning ||
                        c.task_status == containerd::TaskStatus::kPaused ||
                        c.task_status == containerd::TaskStatus::kPausing);
}

}  // namespace

Reconciler::Reconciler(asio::io_context& loop, asio::thread_pool& workers,
                       ReplicaOperations& operations, OutputAttacher& output, Logger& log,
                       std::chrono::nanoseconds resync_interval)
    : loop_(loop),
      workers_(workers),
      operations_(operations),
      output_(output),
      log_(log),
      resync_interval_(resync_interval),
      plan_timer_(loop),
      wake_timer_(loop),
      resync_timer_(loop) {}

void Reconciler::Start(std::vector<DesiredDeployment> loaded, std::function<void(Status)> done) {
  for (DesiredDeployment& d : loaded) {
    std::string name = d.spec.name;
    desired_[name] = std::move(d);
  }
  observing_ = true;
  OffLoop(
      workers_, loop_, [this] { return operations_.ObserveAll(); },
      [this, done = std::move(done)](Result<std::vector<ObservedContainer>> result) {
        observing_ = false;
        started_ = true;
        if (!result.ok()) {
          log_.Error("reading containers from containerd: {}", result.status().message());
          done(result.status());
          Resync();
          return;
        }
        int adopted = 0;
        for (ObservedContainer& c : *result) {
          if (IsRunning(c)) {
            // Adoption: keep draining its output; it keeps running untouched.
            if (Status s = output_.Attach(c.id); !s.ok()) {
              log_.Warn("{}: re-attaching output: {}", c.id, s.message());
            }
            Replica& r = ReplicaFor(c.id, FindService(c.deployment, c.service));
            r.state = "running";
            ++adopted;
          }
          observed_[c.id] = c;
        }
        log_.Info("found {} container(s) of ours, {} running and adopted", observed_.size(),
                  adopted);
        done(Status::Ok());
        MarkDirty();
        resync_timer_.expires_after(resync_interval_);
        resync_timer_.async_wait([this](boost::system::error_code ec) {
          if (!ec) Resync();
        });
      });
}

void Reconciler::Apply(DesiredDeployment deployment) {
  std::string name = deployment.spec.name;
  log_.Info("deployment {} generation {}: {} service(s)", name, deployment.generation,
            deployment.spec.services.size());
  desired_[name] = std::move(deployment);
  // A redeploy gives replicas that gave up a fresh start.
  for (auto& [id, replica] : replicas_) {
    auto o = observed_.find(id);
    if (o != observed_.end() && o->second.deployment == name) replica.memory = {};
  }
  MarkDirty();
}

void Reconciler::Delete(const std::string& name, std::function<void(Status)> done) {
  desired_.erase(name);
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->deployment == name && it->generation > 0) {
      it->done(Status(StatusCode::kAborted, "deployment " + name + " was deleted"));
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  waiters_.push_back({name, 0, std::move(done)});
  MarkDirty();
  CheckWaiters();
}

void Reconciler::WaitConverged(const std::string& name, uint64_t generation,
                               std::function<void(Status)> done) {
  waiters_.push_back({name, generation, std::move(done)});
  CheckWaiters();
}

std::optional<uint64_t> Reconciler::Generation(const std::string& name) const {
  auto it = desired_.find(name);
  if (it == desired_.end()) return std::nullopt;
  return it->second.generation;
}

void Reconciler::OnTaskExit(const std::string& id, pid_t pid, uint32_t exit_status,
                            WallClock::time_point exited_at) {
  auto found = observed_.find(id);
  if (found == observed_.end()) return;  // not ours
  ObservedContainer& c = found->second;
  if (busy_.count(id)) {
    // Being started: the exit may be the new task's, before Start returned.
    if (pid > 0) early_exits_[id] = {pid, exit_status};
    return;
  }
  if (pid > 0 && c.pid > 0 && pid != c.pid) return;  // an older task of this container
  if (!IsRunning(c)) return;  // already handled
  c.task_status = containerd::TaskStatus::kStopped;
  c.pid = 0;
  Replica& r = ReplicaFor(id, FindService(c.deployment, c.service));
  r.exit_status = exit_status;
  r.reason = r.oom_killed ? "OOMKilled" : "";
  (void)exited_at;
  RestartDecision decision;
  if (r.policy) decision = r.policy->OnExit(exit_status, Clock::now());
  if (decision.restart) {
    r.state = "backoff";
    r.memory.restart_not_before = Clock::now() + decision.delay;
    r.next_restart_wall = WallClock::now() + decision.delay;
    log_.Warn("{} exited with status {}{}; restarting in {}", id, exit_status,
              r.oom_killed ? " (OOMKilled)" : "", FormatDuration(decision.delay));
  } else {
    const spec::Service* service = FindService(c.deployment, c.service);
    const bool job = service != nullptr && service->rtype == spec::ResourceType::kJob;
    r.state = exit_status == 0 && job ? "completed" : (exit_status == 0 ? "exited" : "failed");
    r.memory.exited_for_good = true;
    r.next_restart_wall.reset();
    log_.Info("{} exited with status {}; not restarted ({})", id, exit_status, decision.reason);
  }
  MarkDirty();
}

void Reconciler::OnTaskOom(const std::string& id) {
  if (observed_.count(id)) ReplicaFor(id, nullptr).oom_killed = true;
}

void Reconciler::Resync() {
  if (observing_) return;
  observing_ = true;
  OffLoop(
      workers_, loop_, [this] { return operations_.ObserveAll(); },
      [this](Result<std::vector<ObservedContainer>> result) {
        observing_ = false;
        resync_timer_.expires_after(result.ok() ? resync_interval_ : std::chrono::seconds(2));
        resync_timer_.async_wait([this](boost::system::error_code ec) {
          if (!ec) Resync();
        });
        if (!result.ok()) {
          log_.Warn("resync: {}", result.status().message());
          return;
        }
        std::map<std::string, ObservedContainer> fresh;
        for (ObservedContainer& c : *result) fresh[c.id] = c;
        // A task that stopped while we were not listening (agent down,
        // containerd restarted): treat it as an exit now.
        for (auto& [id, c] : fresh) {
          auto old = observed_.find(id);
          if (busy_.count(id) || old == observed_.end()) continue;
          if (IsRunning(old->second) && !IsRunning(c)) {
            OnTaskExit(id, 0, c.has_task ? c.exit_status : 255, WallClock::now());
          }
        }
        for (auto& [id, c] : fresh) {
          if (!busy_.count(id)) observed_[id] = c;
        }
        for (auto it = observed_.begin(); it != observed_.end();) {
          if (!fresh.count(it->first) && !busy_.count(it->first)) {
            it = observed_.erase(it);
          } else {
            ++it;
          }
        }
        MarkDirty();
      });
}

void Reconciler::MarkDirty() {
  if (!started_ || plan_scheduled_) return;
  plan_scheduled_ = true;
  // Coalesce: everything that changes in this turn of the loop is one plan.
  asio::post(loop_, [this] {
    plan_scheduled_ = false;
    PlanNow();
  });
}

void Reconciler::PlanNow() {
  std::map<std::string, ReplicaMemory> memory;
  for (const auto& [id, r] : replicas_) memory[id] = r.memory;
  Plan plan = PlanActions(desired_, observed_, memory, busy_, Clock::now());
  for (const Action& action : plan.actions) Execute(action);
  if (plan.wake_at) {
    wake_timer_.expires_at(*plan.wake_at);
    wake_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) MarkDirty();
    });
  }
  CheckWaiters();
}

void Reconciler::Execute(const Action& action) {
  log_.Debug("{} {}", ActionKindName(action.kind), action.container_id);
  busy_.insert(action.container_id);
  Replica& known = replicas_[action.container_id];
  known.deployment = action.deployment;
  known.service = action.service;
  known.index = action.replica;
  switch (action.kind) {
    case ActionKind::kCreate: return RunCreate(action, false);
    case ActionKind::kReplace: return RunCreate(action, true);
    case ActionKind::kStart: return RunStart(action);
    case ActionKind::kRemove: return RunRemove(action);
  }
}

void Reconciler::RunCreate(const Action& action, bool replace) {
  const spec::Service* service = FindService(action.deployment, action.service);
  const DesiredDeployment& deployment = desired_.at(action.deployment);
  Replica& r = ReplicaFor(action.container_id, service);
  r.state = "creating";
  r.reason.clear();
  // Copies: the desired state may change while the worker runs.
  spec::Deployment spec = deployment.spec;
  spec::Service svc = *service;
  std::string hash = deployment.service_hashes.at(action.service);
  int stop_signal = svc.stop_signal.value_or(SIGTERM);
  OffLoop(
      workers_, loop_,
      [this, action, replace, spec = std::move(spec), svc = std::move(svc), hash, stop_signal] {
        if (replace) {
          ZLAYER_RETURN_IF_ERROR(
              operations_.Stop(action.container_id, stop_signal, svc.stop_grace_period));
          ZLAYER_RETURN_IF_ERROR(operations_.Remove(action.container_id));
        }
        return operations_.Create(action.container_id, spec, svc, action.replica, hash);
      },
      [this, action](Status status) {
        if (!status.ok()) return OnStartFailed(action.container_id, status);
        ObservedContainer c;
        c.id = action.container_id;
        c.deployment = action.deployment;
        c.service = action.service;
        c.replica = action.replica;
        auto d = desired_.find(action.deployment);
        if (d != desired_.end() && d->second.service_hashes.count(action.service)) {
          c.spec_hash = d->second.service_hashes.at(action.service);
        }
        observed_[c.id] = c;
        RunStart(action);
      });
}

void Reconciler::RunStart(const Action& action) {
  const std::string& id = action.container_id;
  Replica& r = ReplicaFor(id, FindService(action.deployment, action.service));
  r.state = "starting";
  if (Status s = output_.Attach(id); !s.ok()) return OnStartFailed(id, s.Wrap("open output"));
  OffLoop(
      workers_, loop_, [this, id] { return operations_.Start(id); },
      [this, id](Result<pid_t> pid) {
        if (!pid.ok()) return OnStartFailed(id, pid.status());
        Replica& r = ReplicaFor(id, nullptr);
        r.state = "running";
        r.reason.clear();
        r.oom_killed = false;
        r.started_at = WallClock::now();
        r.next_restart_wall.reset();
        r.memory.restart_not_before.reset();
        if (r.policy) r.policy->OnStarted(Clock::now());
        auto found = observed_.find(id);
        if (found != observed_.end()) {
          found->second.has_task = true;
          found->second.task_status = containerd::TaskStatus::kRunning;
          found->second.pid = *pid;
        }
        log_.Info("{} running (pid {})", id, *pid);
        FinishAction(id);
        auto early = early_exits_.find(id);
        if (early != early_exits_.end()) {
          auto [exit_pid, status] = early->second;
          early_exits_.erase(early);
          if (exit_pid == *pid) OnTaskExit(id, exit_pid, status, WallClock::now());
        }
      });
}

void Reconciler::OnStartFailed(const std::string& id, const Status& status) {
  Replica& r = ReplicaFor(id, nullptr);
  r.reason = status.message();
  RestartDecision decision;
  if (r.policy) decision = r.policy->OnExit(1, Clock::now());
  if (decision.restart) {
    r.state = "backoff";
    r.memory.restart_not_before = Clock::now() + decision.delay;
    r.next_restart_wall = WallClock::now() + decision.delay;
    log_.Error("{}: {}; retrying in {}", id, status.message(), FormatDuration(decision.delay));
  } else {
    r.state = "failed";
    r.memory.exited_for_good = true;
    log_.Error("{}: {}", id, status.message());
  }
  FinishAction(id);
}

void Reconciler::RunRemove(const Action& action) {
  const std::string id = action.container_id;
  auto& r = ReplicaFor(id, nullptr);
  r.state = "removing";
  // The spec is gone: stop with the defaults (SIGTERM, 10s) unless the
  // service still exists (scale-down).
  int signal = SIGTERM;
  std::chrono::nanoseconds grace = std::chrono::seconds(10);
  if (const spec::Service* s = FindService(action.deployment, action.service)) {
    signal = s->stop_signal.value_or(SIGTERM);
    grace = s->stop_grace_period;
  }
  OffLoop(
      workers_, loop_,
      [this, id, signal, grace]() -> Status {
        ZLAYER_RETURN_IF_ERROR(operations_.Stop(id, signal, grace));
        return operations_.Remove(id);
      },
      [this, id](Status status) {
        if (!status.ok()) {
          log_.Error("removing {}: {}", id, status.message());
          ReplicaFor(id, nullptr).reason = status.message();
          busy_.erase(id);
          // Retried by the next resync, not immediately (it just failed).
          CheckWaiters();
          return;
        }
        output_.Detach(id, /*remove_logs=*/true);
        observed_.erase(id);
        replicas_.erase(id);
        log_.Info("{} removed", id);
        FinishAction(id);
      });
}

void Reconciler::FinishAction(const std::string& id) {
  busy_.erase(id);
  if (!observed_.count(id)) early_exits_.erase(id);
  MarkDirty();
  CheckWaiters();
}

bool Reconciler::Converged(const std::string& name) const {
  auto d = desired_.find(name);
  if (d == desired_.end()) return false;
  for (const auto& [service_name, service] : d->second.spec.services) {
    const std::string& hash = d->second.service_hashes.at(service_name);
    for (uint32_t i = 0; i < service.scale.replicas; ++i) {
      std::string id = spec::ContainerId(name, service_name, i);
      auto o = observed_.find(id);
      if (busy_.count(id) || o == observed_.end() || o->second.spec_hash != hash) return false;
      auto r = replicas_.find(id);
      const bool done_for_good = r != replicas_.end() && r->second.memory.exited_for_good;
      if (!IsRunning(o->second) && !done_for_good) return false;
    }
  }
  for (const auto& [id, c] : observed_) {
    if (c.deployment != name) continue;
    auto s = d->second.spec.services.find(c.service);
    if (s == d->second.spec.services.end() || c.replica >= s->second.scale.replicas) return false;
  }
  return true;
}

void Reconciler::CheckWaiters() {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    bool finished = false;
    Status result = Status::Ok();
    if (it->generation == 0) {  // deletion
      bool left = false;
      for (const auto& [id, c] : observed_) left = left || c.deployment == it->deployment;
      finished = !left;
    } else {
      auto d = desired_.find(it->deployment);
      if (d == desired_.end()) {
        finished = true;
        result = Status(StatusCode::kAborted, "deployment " + it->deployment + " was deleted");
      } else {
        finished = d->second.generation >= it->generation && Converged(it->deployment);
      }
    }
    if (finished) {
      auto done = std::move(it->done);
      it = waiters_.erase(it);
      done(result);
    } else {
      ++it;
    }
  }
}

const spec::Service* Reconciler::FindService(const std::string& deployment,
                                             const std::string& service) const {
  auto d = desired_.find(deployment);
  if (d == desired_.end()) return nullptr;
  auto s = d->second.spec.services.find(service);
  return s == d->second.spec.services.end() ? nullptr : &s->second;
}

Reconciler::Replica& Reconciler::ReplicaFor(const std::string& id, const spec::Service* service) {
  Replica& r = replicas_[id];
  if (!r.policy && service != nullptr) {
    r.policy.emplace(service->restart_policy, service->rtype, [this] {
      return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    });
  }
  return r;
}

std::vector<DeploymentView> Reconciler::Deployments() const {
  std::map<std::string, DeploymentView> views;
  for (const auto& [name, d] : desired_) {
    views[name].name = name;
    views[name].generation = d.generation;
    views[name].converged = Converged(name);
  }
  for (const auto& [id, c] : observed_) {
    DeploymentView& view = views[c.deployment];
    view.name = c.deployment;
    ReplicaView r;
    r.id = id;
    r.deployment = c.deployment;
    r.service = c.service;
    r.replica = c.replica;
    if (const spec::Service* s = FindService(c.deployment, c.service)) r.image = s->image.name;
    r.pid = IsRunning(c) ? c.pid : 0;
    auto known = replicas_.find(id);
    if (known != replicas_.end()) {
      const Replica& k = known->second;
      r.state = k.state;
      r.exit_status = k.exit_status;
      r.restarts = k.policy ? k.policy->restarts() : 0;
      r.reason = k.reason;
      r.started_at = k.started_at;
      r.next_restart = k.next_restart_wall;
    } else {
      r.state = IsRunning(c) ? "running" : (c.has_task ? "exited" : "created");
    }
    if (IsRunning(c) && !busy_.count(id)) r.state = "running";
    view.replicas.push_back(std::move(r));
  }
  // Replicas without a container (creating, or creation failed): what we know.
  for (const auto& [id, k] : replicas_) {
    if (observed_.count(id) || k.deployment.empty() || !desired_.count(k.deployment)) continue;
    ReplicaView r;
    r.id = id;
    r.deployment = k.deployment;
    r.service = k.service;
    r.replica = k.index;
    if (const spec::Service* s = FindService(k.deployment, k.service)) r.image = s->image.name;
    r.state = k.state;
    r.reason = k.reason;
    r.restarts = k.policy ? k.policy->restarts() : 0;
    r.next_restart = k.next_restart_wall;
    views[k.deployment].replicas.push_back(std::move(r));
  }
  std::vector<DeploymentView> out;
  for (auto& [name, view] : views) out.push_back(std::move(view));
  return out;
}

std::vector<std::string> Reconciler::ContainersOf(const std::string& deployment,
                                                  const std::string& service) const {
  std::vector<std::string> ids;
  for (const auto& [id, c] : observed_) {
    if (c.deployment == deployment && (service.empty() || c.service == service)) ids.push_back(id);
  }
  return ids;
}

}  // namespace zlayer::reconcile
