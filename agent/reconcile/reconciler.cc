#include "agent/reconcile/reconciler.h"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <tuple>
#include <utility>

#include "agent/reconcile/stop_signal.h"
#include "agent/spec/naming.h"
#include "common/duration.h"
#include "common/executors.h"

namespace zlayer::reconcile {

namespace asio = boost::asio;
using WallClock = std::chrono::system_clock;

namespace {

constexpr size_t kRestartHistory = 20;

std::string Key(const std::string& deployment, const std::string& service) {
  return deployment + "/" + service;
}

// The first line of `text`, at most 200 characters: for one-line messages.
std::string OneLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line;
}

}  // namespace

Reconciler::Reconciler(asio::io_context& loop, asio::thread_pool& lifecycle,
                       asio::thread_pool& images, Clock& clock, ReplicaOperations& operations,
                       OutputAttacher& output, HealthWatcher& health, ReplicaNetwork& network,
                       Logger& log, Options options)
    : loop_(loop),
      lifecycle_(lifecycle),
      images_(images),
      clock_(clock),
      operations_(operations),
      output_(output),
      health_(health),
      network_(network),
      log_(log),
      options_(options) {}

void Reconciler::Start(std::vector<DesiredDeployment> loaded, std::function<void(Status)> done) {
  for (DesiredDeployment& d : loaded) {
    std::string name = d.spec.name;
    desired_[name] = std::move(d);
  }
  observing_ = true;
  RunOff(
      lifecycle_, loop_,
      [this] {
        // What an unclean stop of the last run left goes first.
        if (Result<int> removed = operations_.RemoveLeftovers(); !removed.ok()) {
          log_.Warn("{}", removed.status().message());
        } else if (*removed > 0) {
          log_.Info("removed {} leftover(s) of an unclean stop", *removed);
        }
        return operations_.ObserveAll();
      },
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
            output_.Attach(c.id, [this, id = c.id](Status s) {
              if (!s.ok()) log_.Warn("{}: re-attaching output: {}", id, s.message());
            });
            const spec::Service* service = FindService(c.deployment, c.service);
            Replica& r = ReplicaFor(c.id, service);
            r.state = ReplicaState::kRunning;
            r.started_at = c.started_at;  // its uptime goes on
            r.deployment = c.deployment;
            r.service = c.service;
            r.index = c.replica;
            if (service != nullptr && service->health &&
                c.spec_hash == desired_.at(c.deployment).service_hashes.at(c.service)) {
              // Adopted replicas were ready before the agent restarted; their
              // checks start over, as after any start.
              r.ever_ready = true;
              r.health = HealthWatcher::Verdict::kStarting;
              r.memory.health_ok = true;
              WatchHealth(c.id, *service->health);
            }
            ++adopted;
          }
          observed_[c.id] = c;
        }
        log_.Info("found {} container(s) of ours, {} running and adopted", observed_.size(),
                  adopted);
        // Network pieces of containers and deployments that are gone (a crash may
        // leave any of them) go now that both lists are known.
        std::set<std::string> containers;
        for (const auto& [id, c] : observed_) containers.insert(id);
        std::set<std::string> deployments;
        for (const auto& [name, d] : desired_) deployments.insert(name);
        network_.Prune(std::move(containers), std::move(deployments));
        done(Status::Ok());
        MarkDirty();
        resync_ = clock_.At(clock_.SteadyNow() + options_.resync_interval, [this] { Resync(); });
      });
}

void Reconciler::Apply(DesiredDeployment deployment) {
  std::string name = deployment.spec.name;
  deleted_.erase(name);
  log_.Info("deployment {} generation {}: {} service(s)", name, deployment.generation,
            deployment.spec.services.size());
  // A service whose spec changed while it has replicas starts a rollout.
  for (const auto& [service_name, hash] : deployment.service_hashes) {
    ServiceState& state = services_[Key(name, service_name)];
    state.dependencies = DependencyWait{};
    bool outdated = false;
    for (const auto& [id, c] : observed_) {
      outdated =
          outdated || (c.deployment == name && c.service == service_name && c.spec_hash != hash);
    }
    if (StartRollout(state.rollout, hash, deployment.generation, outdated) ==
        RolloutEvent::kStarted) {
      StrategyChoice choice = ChooseUpdateStrategy(deployment.spec.services.at(service_name));
      log_.Info("{}/{}: rolling out generation {} ({}: {})", name, service_name,
                deployment.generation, UpdateStrategyName(choice.strategy), choice.reason);
    }
  }
  for (auto it = services_.begin(); it != services_.end();) {
    const bool ours = it->first.compare(0, name.size() + 1, name + "/") == 0;
    if (ours && !deployment.spec.services.count(it->first.substr(name.size() + 1))) {
      it = services_.erase(it);
    } else {
      ++it;
    }
  }
  desired_[name] = std::move(deployment);
  // Health settings apply to running replicas without recreating them.
  for (auto& [id, replica] : replicas_) {
    auto o = observed_.find(id);
    if (o == observed_.end() || o->second.deployment != name || !IsRunning(o->second)) continue;
    const spec::Service* service = FindService(name, o->second.service);
    if (service == nullptr ||
        o->second.spec_hash != desired_[name].service_hashes[o->second.service])
      continue;
    if (service->health) {
      replica.health = HealthWatcher::Verdict::kStarting;
      WatchHealth(id, *service->health);
    } else if (replica.health) {
      Unwatch(id);
      replica.health.reset();
      replica.memory.health_ok = true;
    }
  }
  // A redeploy gives replicas that gave up a fresh start.
  for (auto& [id, replica] : replicas_) {
    auto o = observed_.find(id);
    if ((o != observed_.end() && o->second.deployment == name) || replica.deployment == name) {
      replica.memory = {};
    }
  }
  MarkDirty();
}

void Reconciler::Delete(const std::string& name, std::function<void(Status)> done) {
  if (auto d = desired_.find(name); d != desired_.end()) {
    deleted_[name] = std::move(d->second.spec);  // its stop signals and grace periods
    desired_.erase(d);
  }
  for (auto it = services_.begin(); it != services_.end();) {
    it = it->first.compare(0, name.size() + 1, name + "/") == 0 ? services_.erase(it)
                                                                : std::next(it);
  }
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->deployment == name && it->generation > 0) {
      it->done(Status(StatusCode::kAborted, "deployment " + name + " was deleted"));
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  // Replicas that never got a container (a create failed) have nothing to
  // remove; forget them now so that nothing of the deployment stays behind.
  for (auto it = replicas_.begin(); it != replicas_.end();) {
    const bool orphan =
        it->second.deployment == name && !observed_.count(it->first) && !busy_.count(it->first);
    it = orphan ? replicas_.erase(it) : std::next(it);
  }
  waiters_.push_back({name, 0, std::move(done)});
  network_.ReleaseDeployment(name);
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
  if (auto s = stops_.find(id); s != stops_.end()) {
    PendingStop& stop = *s->second;
    if (pid <= 0 || stop.pid <= 0 || pid == stop.pid) {
      if (!stop.exited) {
        stop.exited = true;
        // While a signal is in flight its answer carries on (OnStopSignalled).
        if (stop.phase == PendingStop::Phase::kDraining ||
            stop.phase == PendingStop::Phase::kGrace ||
            stop.phase == PendingStop::Phase::kAfterKill) {
          DeleteStoppedTask(stop);
        }
      }
      return;
    }
  }
  if (shutting_down_) return;
  auto found = observed_.find(id);
  if (found == observed_.end()) return;  // not ours
  ObservedContainer& c = found->second;
  if (busy_.count(id)) {
    // Being started: the exit may be the new task's, before Start returned.
    if (pid > 0) early_exits_[id] = {pid, exit_status};
    return;
  }
  if (pid > 0 && c.pid > 0 && pid != c.pid) return;  // an older task of this container
  if (!IsRunning(c)) return;                         // already handled
  c.task_status = containerd::TaskStatus::kStopped;
  c.exit_status = exit_status;
  c.pid = 0;
  Unwatch(id);
  Replica& r = ReplicaFor(id, FindService(c.deployment, c.service));
  r.exit_status = exit_status;
  r.reason = r.oom_killed ? "OOMKilled" : "";
  if (r.memory.settles_at && *r.memory.settles_at <= clock_.SteadyNow()) r.ever_ready = true;
  r.memory.settles_at.reset();
  if (!r.ever_ready) {
    CheckRolloutFailure(id, fmt::format("exited with status {}{} before it was ready", exit_status,
                                        r.oom_killed ? " (OOMKilled)" : ""));
  }
  RestartDecision decision;
  if (r.policy) decision = r.policy->OnExit(exit_status, clock_.SteadyNow());
  if (decision.restart) {
    EnterBackoff(r, decision.delay);
    RecordRestart(r, {std::nullopt, exited_at, exit_status, r.reason, "exit", decision.delay});
    log_.Warn("{} exited with status {}{}; restarting in {}", id, exit_status,
              r.oom_killed ? " (OOMKilled)" : "", FormatDuration(decision.delay));
  } else {
    const spec::Service* service = FindService(c.deployment, c.service);
    const bool job = service != nullptr && service->rtype == spec::ResourceType::kJob;
    r.state = exit_status != 0 ? ReplicaState::kFailed
              : job            ? ReplicaState::kCompleted
                               : ReplicaState::kExited;
    r.memory.exited_for_good = true;
    r.next_restart_wall.reset();
    log_.Info("{} exited with status {}; not restarted ({})", id, exit_status, decision.reason);
  }
  MarkDirty();
}

void Reconciler::OnTaskOom(const std::string& id) {
  if (observed_.count(id)) ReplicaFor(id, nullptr).oom_killed = true;
}

void Reconciler::Unwatch(const std::string& id) {
  auto r = replicas_.find(id);
  if (r == replicas_.end() || !r->second.health) return;
  health_.Unwatch(id);
}

void Reconciler::WatchHealth(const std::string& id, const spec::Health& health) {
  health_.Watch(
      id, network_.AddressOf(id), health,
      [this, id](HealthWatcher::Verdict v, const std::string& out) { OnHealth(id, v, out); });
}

void Reconciler::OnHealth(const std::string& id, HealthWatcher::Verdict verdict,
                          const std::string& output) {
  if (shutting_down_) return;
  auto found = replicas_.find(id);
  auto o = observed_.find(id);
  if (found == replicas_.end() || o == observed_.end() || !IsRunning(o->second)) return;
  Replica& r = found->second;
  const bool changed = r.health != verdict;
  r.health = verdict;
  r.memory.health_ok = verdict == HealthWatcher::Verdict::kHealthy;
  if (changed) log_.Info("{} is {}", id, ReplicaHealthName(verdict));
  if (verdict == HealthWatcher::Verdict::kHealthy) {
    r.ever_ready = true;
    if (r.reason.rfind("unhealthy", 0) == 0) r.reason.clear();
  } else if (verdict == HealthWatcher::Verdict::kUnhealthy) {
    r.reason = "unhealthy: " + OneLine(output);
    if (!r.ever_ready) CheckRolloutFailure(id, "unhealthy: " + OneLine(output));
    const ServiceState* state = nullptr;
    if (auto s = services_.find(Key(r.deployment, r.service)); s != services_.end())
      state = &s->second;
    const bool replacement_to_drop =
        state != nullptr && AbandonedReplacement(state->rollout, o->second.spec_hash, r.ever_ready);
    if (options_.restart_unhealthy && !replacement_to_drop && !busy_.count(id)) {
      RestartUnhealthy(id, output);
    }
  }
  MarkDirty();
}

void Reconciler::RestartUnhealthy(const std::string& id, const std::string& output) {
  Replica& r = replicas_.at(id);
  log_.Warn("{} is unhealthy ({}); restarting it", id, OneLine(output));
  Unwatch(id);
  busy_.insert(id);
  r.state = ReplicaState::kStopping;
  StopTask(StopRequestFor(id, r.deployment, r.service), [this, id](Status status) {
    if (!status.ok()) log_.Error("restarting unhealthy {}: {}", id, status.message());
    auto o = observed_.find(id);
    if (o != observed_.end()) {
      o->second.has_task = false;
      o->second.task_status = containerd::TaskStatus::kStopped;
      o->second.pid = 0;
    }
    Replica& r = ReplicaFor(id, nullptr);
    const uint32_t status_code = 128 + SIGKILL;
    r.exit_status = status_code;
    RestartDecision decision;
    if (r.policy) decision = r.policy->OnExit(status_code, clock_.SteadyNow());
    if (decision.restart) {
      EnterBackoff(r, decision.delay);
      RecordRestart(r, {std::nullopt, clock_.WallNow(), status_code, "Unhealthy", "unhealthy",
                        decision.delay});
    } else {
      r.state = ReplicaState::kFailed;
      r.memory.exited_for_good = true;
      log_.Info("{} not restarted after failing its health check ({})", id, decision.reason);
    }
    FinishAction(id);
  });
}

void Reconciler::CheckRolloutFailure(const std::string& id, const std::string& why) {
  auto o = observed_.find(id);
  if (o == observed_.end()) return;
  auto s = services_.find(Key(o->second.deployment, o->second.service));
  if (s == services_.end()) return;
  ServiceState& state = s->second;
  if (OnReplicaFailedBeforeReady(state.rollout, id, o->second.spec_hash, why) !=
      RolloutEvent::kStopped) {
    return;
  }
  log_.Error("{}/{}: rollout of generation {} stopped: {}", o->second.deployment, o->second.service,
             state.rollout.generation, state.rollout.message);
}

StopRequest Reconciler::StopRequestFor(const std::string& id, const std::string& deployment,
                                       const std::string& service) const {
  // A service no longer in the spec stops with Docker's defaults; one of a
  // deleted deployment as its last spec said.
  StopRequest request;
  request.id = id;
  const spec::Service* s = FindService(deployment, service);
  if (auto d = deleted_.find(deployment); s == nullptr && d != deleted_.end()) {
    auto found = d->second.services.find(service);
    if (found != d->second.services.end()) s = &found->second;
  }
  auto o = observed_.find(id);
  request.signal =
      StopSignal(s, o == observed_.end() ? std::nullopt : o->second.recorded_stop_signal);
  request.grace = s != nullptr ? s->stop_grace_period : std::chrono::seconds(10);
  return request;
}

void Reconciler::EnterBackoff(Replica& r, std::chrono::nanoseconds delay) {
  r.state = ReplicaState::kBackoff;
  r.memory.restart_not_before = clock_.SteadyNow() + delay;
  r.next_restart_wall = clock_.WallNow() + delay;
}

void Reconciler::RecordRestart(Replica& r, RestartView restart) {
  r.restart_history.push_back(std::move(restart));
  if (r.restart_history.size() > kRestartHistory) r.restart_history.pop_front();
}

std::vector<StopRequest> Reconciler::PrepareShutdown(std::chrono::nanoseconds max_grace) {
  shutting_down_ = true;
  wake_.Cancel();
  resync_.Cancel();
  std::vector<StopRequest> requests;
  for (const auto& [id, c] : observed_) {
    Unwatch(id);
    if (!IsRunning(c) && !busy_.count(id)) continue;
    StopRequest request = StopRequestFor(id, c.deployment, c.service);
    request.grace = std::min(request.grace, max_grace);
    requests.push_back(request);
  }
  return requests;
}

void Reconciler::StopAll(std::vector<StopRequest> requests, std::function<void(Status)> done) {
  if (requests.empty()) return done(Status::Ok());
  struct Tally {
    size_t left = 0;
    Status first;
    std::function<void(Status)> done;
  };
  auto tally = std::make_shared<Tally>();
  tally->left = requests.size();
  tally->done = std::move(done);
  for (const StopRequest& request : requests) {
    StopTask(request, [tally](Status status) {
      if (tally->first.ok() && !status.ok()) tally->first = status;
      if (--tally->left == 0) tally->done(tally->first);
    });
  }
}

void Reconciler::StopTask(const StopRequest& request, std::function<void(Status)> done) {
  const SteadyTime deadline = clock_.SteadyNow() + request.grace;
  if (auto it = stops_.find(request.id); it != stops_.end()) {
    PendingStop& stop = *it->second;
    stop.done.push_back(std::move(done));
    if (deadline < stop.deadline) {
      stop.deadline = deadline;
      stop.request.grace = request.grace;
      if (stop.phase == PendingStop::Phase::kGrace) ArmStopTimer(stop, deadline);
    }
    return;
  }
  auto stop = std::make_unique<PendingStop>();
  stop->serial = next_stop_++;
  stop->request = request;
  stop->deadline = deadline;
  if (auto o = observed_.find(request.id); o != observed_.end()) stop->pid = o->second.pid;
  stop->done.push_back(std::move(done));
  PendingStop& pending = *stop;
  // Registered before the signal goes out: its exit event cannot be missed.
  stops_[request.id] = std::move(stop);
  if (request.signal == SIGKILL) return SendStopSignal(pending, request.signal);
  // Out of rotation first, so that no new request reaches a replica that is
  // shutting down; the grace period counts from here.
  pending.phase = PendingStop::Phase::kDraining;
  network_.Drain(request.id, deadline, [this, id = request.id, serial = pending.serial] {
    PendingStop* stop = FindStop(id, serial);
    if (stop == nullptr || stop->phase != PendingStop::Phase::kDraining) return;
    if (stop->exited) return DeleteStoppedTask(*stop);
    SendStopSignal(*stop, stop->request.signal);
  });
}

void Reconciler::SendStopSignal(PendingStop& stop, int signal) {
  const bool kill = signal == SIGKILL;
  stop.phase = kill ? PendingStop::Phase::kKilling : PendingStop::Phase::kSignalling;
  RunOff(
      lifecycle_, loop_,
      [this, id = stop.request.id, signal, kill] {
        // SIGKILL goes to every process of the task, as `docker kill` does.
        return operations_.Signal(id, signal, /*all=*/kill);
      },
      [this, id = stop.request.id, serial = stop.serial](Status status) {
        OnStopSignalled(id, serial, status);
      });
}

void Reconciler::OnStopSignalled(const std::string& id, uint64_t serial, Status status) {
  PendingStop* stop = FindStop(id, serial);
  if (stop == nullptr) return;
  // kNotFound: no task, or it exited before the signal.
  if (stop->exited || status.code() == StatusCode::kNotFound) return DeleteStoppedTask(*stop);
  if (!status.ok()) return FinishStop(id, status);
  if (stop->phase == PendingStop::Phase::kSignalling) {
    stop->phase = PendingStop::Phase::kGrace;
    ArmStopTimer(*stop, stop->deadline);
  } else {
    stop->phase = PendingStop::Phase::kAfterKill;
    ArmStopTimer(*stop, clock_.SteadyNow() + options_.kill_wait);
  }
}

void Reconciler::ArmStopTimer(PendingStop& stop, SteadyTime at) {
  // Replaces (cancels) an earlier wait.
  stop.timer = clock_.At(at, [this, id = stop.request.id, serial = stop.serial,
                              phase = stop.phase] { OnStopTimer(id, serial, phase); });
}

void Reconciler::OnStopTimer(const std::string& id, uint64_t serial, PendingStop::Phase phase) {
  PendingStop* stop = FindStop(id, serial);
  if (stop == nullptr || stop->phase != phase) return;
  if (phase == PendingStop::Phase::kGrace) {
    log_.Warn("{} did not stop within {}; sending SIGKILL", id,
              FormatDuration(stop->request.grace));
    return SendStopSignal(*stop, SIGKILL);
  }
  if (phase != PendingStop::Phase::kAfterKill) return;
  // No exit event after SIGKILL: it may have been missed (the event stream
  // reconnected), so ask containerd once before giving up.
  stop->phase = PendingStop::Phase::kChecking;
  RunOff(
      lifecycle_, loop_, [this, id] { return operations_.TaskRunning(id); },
      [this, id, serial](Result<bool> running) {
        PendingStop* stop = FindStop(id, serial);
        if (stop == nullptr) return;
        if (stop->exited || (running.ok() && !*running)) return DeleteStoppedTask(*stop);
        FinishStop(id, running.ok() ? DeadlineExceededError(
                                          fmt::format("task {} still running {} after SIGKILL", id,
                                                      FormatDuration(options_.kill_wait)))
                                    : running.status());
      });
}

void Reconciler::DeleteStoppedTask(PendingStop& stop) {
  stop.phase = PendingStop::Phase::kDeleting;
  stop.timer.Cancel();
  RunOff(
      lifecycle_, loop_, [this, id = stop.request.id] { return operations_.DeleteTask(id); },
      [this, id = stop.request.id, serial = stop.serial](Status status) {
        if (FindStop(id, serial) != nullptr) FinishStop(id, status);
      });
}

void Reconciler::FinishStop(const std::string& id, const Status& status) {
  auto it = stops_.find(id);
  std::unique_ptr<PendingStop> stop = std::move(it->second);
  stops_.erase(it);
  for (auto& done : stop->done) done(status);
}

Reconciler::PendingStop* Reconciler::FindStop(const std::string& id, uint64_t serial) {
  auto it = stops_.find(id);
  return it != stops_.end() && it->second->serial == serial ? it->second.get() : nullptr;
}

void Reconciler::Resync() {
  if (observing_) return;
  observing_ = true;
  RunOff(
      lifecycle_, loop_, [this] { return operations_.ObserveAll(); },
      [this](Result<std::vector<ObservedContainer>> result) {
        observing_ = false;
        const std::chrono::nanoseconds next =
            result.ok() ? options_.resync_interval : std::chrono::seconds(2);
        resync_ = clock_.At(clock_.SteadyNow() + next, [this] { Resync(); });
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
            OnTaskExit(id, 0, c.has_task ? c.exit_status : 255, clock_.WallNow());
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
  if (!started_ || plan_scheduled_ || shutting_down_) return;
  plan_scheduled_ = true;
  // Coalesce: everything that changes in this turn of the loop is one plan.
  asio::post(loop_, [this] {
    plan_scheduled_ = false;
    PlanNow();
  });
}

void Reconciler::PlanNow() {
  if (shutting_down_) return;
  const SteadyTime now = clock_.SteadyNow();
  std::map<std::string, ReplicaMemory> memory;
  for (const auto& [id, r] : replicas_) memory[id] = r.memory;
  std::optional<SteadyTime> gate_wake;
  std::map<std::string, ServiceGate> gates = Gates(now, gate_wake);
  Plan plan = PlanActions(desired_, observed_, memory, busy_, now, gates);
  for (const Action& action : plan.actions) Execute(action);
  if (!pending_removes_.empty()) RunRemoves(std::exchange(pending_removes_, {}));
  UpdateRollouts();
  if (gate_wake && (!plan.wake_at || *gate_wake < *plan.wake_at)) plan.wake_at = gate_wake;
  if (plan.wake_at) wake_ = clock_.At(*plan.wake_at, [this] { MarkDirty(); });
  CheckWaiters();
  auto listeners = listeners_;  // a listener may unsubscribe itself
  for (auto& [id, listener] : listeners) listener();
}

uint64_t Reconciler::Subscribe(std::function<void()> on_change) {
  uint64_t id = next_listener_++;
  listeners_[id] = std::move(on_change);
  return id;
}

void Reconciler::Unsubscribe(uint64_t id) { listeners_.erase(id); }

void Reconciler::Execute(const Action& action) {
  log_.Debug("{} {}", ActionKindName(action.kind), action.container_id);
  busy_.insert(action.container_id);
  Replica& known = replicas_[action.container_id];
  known.deployment = action.deployment;
  known.service = action.service;
  known.index = action.replica;
  if (action.kind == ActionKind::kCreate || action.kind == ActionKind::kReplace) {
    known.generation = desired_.at(action.deployment).generation;
    known.ever_ready = false;
  }
  switch (action.kind) {
    case ActionKind::kCreate:
      return RunCreate(action, false);
    case ActionKind::kReplace:
      return RunCreate(action, true);
    case ActionKind::kStart:
      return RunStart(action);
    case ActionKind::kRemove:
      return pending_removes_.push_back(action);
  }
}

void Reconciler::RunCreate(const Action& action, bool replace) {
  const spec::Service* service = FindService(action.deployment, action.service);
  const DesiredDeployment& deployment = desired_.at(action.deployment);
  if (replace) Unwatch(action.container_id);
  Replica& r = ReplicaFor(action.container_id, service);
  r.state = ReplicaState::kCreating;
  r.reason.clear();
  // Copies: the desired state may change while the worker runs.
  spec::Deployment spec = deployment.spec;
  spec::Service svc = *service;
  std::string hash = deployment.service_hashes.at(action.service);
  if (!replace) return PrepareAndCreate(action, std::move(spec), std::move(svc), std::move(hash));
  StopTask(
      StopRequestFor(action.container_id, action.deployment, action.service),
      [this, action, spec = std::move(spec), svc = std::move(svc),
       hash = std::move(hash)](Status stopped) mutable {
        if (!stopped.ok()) return OnStartFailed(action.container_id, stopped);
        RunOff(
            lifecycle_, loop_, [this, id = action.container_id] { return operations_.Remove(id); },
            [this, action, spec = std::move(spec), svc = std::move(svc),
             hash = std::move(hash)](Status removed) mutable {
              if (!removed.ok()) return OnStartFailed(action.container_id, removed);
              // The replacement may reuse the id: its old network goes first.
              network_.Detach(
                  action.container_id, [this, action, spec = std::move(spec), svc = std::move(svc),
                                        hash = std::move(hash)](Status detached) mutable {
                    if (!detached.ok()) {
                      log_.Warn("{}: {}", action.container_id, detached.message());
                    }
                    PrepareAndCreate(action, std::move(spec), std::move(svc), std::move(hash));
                  });
            });
      });
}

void Reconciler::PrepareAndCreate(const Action& action, spec::Deployment spec,
                                  spec::Service service, std::string hash) {
  // The image first: a pull (or unpack) runs on the images pool and never holds
  // a lifecycle thread, and a present image never waits behind pulls.
  // Then the network (the container's spec names its namespace), then the container.
  auto create = [this, action, spec = std::move(spec), service,
                 hash = std::move(hash)](PreparedImage image) {
    if (shutting_down_) return FinishAction(action.container_id);
    network_.Attach(action.container_id, spec.name, service,
                    [this, action, spec, service, hash,
                     image = std::move(image)](Result<AttachedNetwork> network) mutable {
                      const std::string& id = action.container_id;
                      if (!network.ok()) return OnStartFailed(id, network.status().Wrap("network"));
                      if (shutting_down_) return FinishAction(id);
                      RunOff(
                          lifecycle_, loop_,
                          [this, action, spec, service, hash, image = std::move(image),
                           network = std::move(*network)] {
                            return operations_.Create(action.container_id, spec, service,
                                                      action.replica, hash, image, network);
                          },
                          [this, action](Result<ObservedContainer> created) {
                            const std::string& id = action.container_id;
                            if (!created.ok()) {
                              // No container holds the network: give it back before retrying.
                              return network_.Detach(id,
                                                     [this, id, status = created.status()](Status) {
                                                       OnStartFailed(id, status);
                                                     });
                            }
                            observed_[id] = std::move(*created);
                            if (shutting_down_) return FinishAction(id);
                            RunStart(action);
                          });
                    });
  };
  RunOff(
      lifecycle_, loop_, [this, service] { return operations_.LocalImage(service); },
      [this, action, service,
       create = std::move(create)](Result<std::optional<PreparedImage>> local) mutable {
        if (local.ok() && *local) return create(std::move(**local));
        RunOff(
            images_, loop_, [this, service] { return operations_.PrepareImage(service); },
            [this, action, create = std::move(create)](Result<PreparedImage> prepared) mutable {
              const std::string& id = action.container_id;
              if (!prepared.ok()) return OnStartFailed(id, prepared.status().Wrap("replica " + id));
              create(std::move(*prepared));
            });
      });
}

void Reconciler::RunStart(const Action& action) {
  const std::string& id = action.container_id;
  const spec::Service* service = FindService(action.deployment, action.service);
  Replica& r = ReplicaFor(id, service);
  r.state = ReplicaState::kStarting;
  // The task's FIFOs must be read before it starts: attach first, then start.
  auto start = [this, id] {
    output_.Attach(id, [this, id](Status attached) {
      if (!attached.ok()) return OnStartFailed(id, attached.Wrap("open output"));
      if (shutting_down_) return FinishAction(id);  // no new task once node shutdown began
      StartTask(id);
    });
  };
  if (service == nullptr) return start();
  // Its network is there (at once), or restored when the node's restart lost
  // the namespace the container's spec names.
  network_.Attach(id, action.deployment, *service,
                  [this, id, start = std::move(start)](Result<AttachedNetwork> network) {
                    if (!network.ok()) return OnStartFailed(id, network.status().Wrap("network"));
                    if (shutting_down_) return FinishAction(id);
                    start();
                  });
}

void Reconciler::StartTask(const std::string& id) {
  RunOff(
      lifecycle_, loop_, [this, id] { return operations_.Start(id); },
      [this, id](Result<pid_t> pid) {
        if (!pid.ok()) return OnStartFailed(id, pid.status());
        Replica& r = ReplicaFor(id, nullptr);
        r.state = ReplicaState::kRunning;
        r.reason.clear();
        r.oom_killed = false;
        r.started_at = clock_.WallNow();
        r.next_restart_wall.reset();
        r.memory.restart_not_before.reset();
        if (!r.restart_history.empty() && !r.restart_history.back().restarted_at) {
          r.restart_history.back().restarted_at = r.started_at;
        }
        if (r.policy) r.policy->OnStarted(clock_.SteadyNow());
        const spec::Service* service = FindService(r.deployment, r.service);
        if (service != nullptr && service->health) {
          r.health = HealthWatcher::Verdict::kStarting;
          r.memory.health_ok = false;
          WatchHealth(id, *service->health);
        } else {
          r.health.reset();
          r.memory.health_ok = true;
          // A replacement of a rollout must keep running a moment first.
          auto o = observed_.find(id);
          auto state = services_.find(Key(r.deployment, r.service));
          r.memory.settles_at.reset();
          if (o != observed_.end() && state != services_.end()) {
            r.memory.settles_at = ReplacementSettlesAt(state->second.rollout, o->second.spec_hash,
                                                       r.ever_ready, clock_.SteadyNow());
          }
          if (!r.memory.settles_at) r.ever_ready = true;
        }
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
          if (exit_pid == *pid) OnTaskExit(id, exit_pid, status, clock_.WallNow());
        }
      });
}

void Reconciler::OnStartFailed(const std::string& id, const Status& status) {
  Replica& r = ReplicaFor(id, nullptr);
  r.reason = OneLine(status.message());
  if (IsPermanentFailure(status)) {
    // Retrying cannot help: the replica stays failed, with the reason, until
    // a new deploy of its deployment.
    r.state = ReplicaState::kFailed;
    r.memory.exited_for_good = true;
    r.memory.restart_not_before.reset();
    r.next_restart_wall.reset();
    log_.Error("{}: {}; not retried (a new deploy tries again)", id, r.reason);
    if (!r.ever_ready) CheckRolloutFailure(id, "failed: " + r.reason);
    return FinishAction(id);
  }
  RestartDecision decision;
  if (r.policy) decision = r.policy->OnStartFailed(clock_.SteadyNow());
  if (decision.restart) {
    EnterBackoff(r, decision.delay);
    log_.Error("{}: {}; retrying in {}", id, status.message(), FormatDuration(decision.delay));
  } else {
    r.state = ReplicaState::kFailed;
    r.memory.exited_for_good = true;
    log_.Error("{}: {}", id, status.message());
  }
  FinishAction(id);
}

void Reconciler::RunRemoves(std::vector<Action> actions) {
  // Every task gets its signal at once, so deleting or scaling down N
  // replicas takes the longest grace period, not N of them.
  for (const Action& action : actions) {
    const std::string id = action.container_id;
    Unwatch(id);
    ReplicaFor(id, nullptr).state = ReplicaState::kRemoving;
    StopTask(StopRequestFor(id, action.deployment, action.service), [this, id](Status stopped) {
      RunOff(
          lifecycle_, loop_,
          [this, id, stopped] {
            Status removed = operations_.Remove(id);
            return removed.ok() || stopped.ok() ? removed : stopped;
          },
          [this, id](Status status) {
            if (!status.ok()) return OnRemoved(id, status);
            network_.Detach(id, [this, id](Status detached) {
              // The container is gone either way; a network piece left behind
              // is removed by the next start's Prune.
              if (!detached.ok()) log_.Warn("{}: {}", id, detached.message());
              OnRemoved(id, Status::Ok());
            });
          });
    });
  }
}

void Reconciler::OnRemoved(const std::string& id, const Status& status) {
  if (!status.ok()) {
    log_.Error("removing {}: {}", id, status.message());
    ReplicaFor(id, nullptr).reason = status.message();
    busy_.erase(id);
    // Retried by the next resync, not immediately (it just failed).
  } else {
    output_.Detach(id, /*remove_logs=*/true);
    observed_.erase(id);
    replicas_.erase(id);
    early_exits_.erase(id);
    busy_.erase(id);
    log_.Info("{} removed", id);
  }
  MarkDirty();
  CheckWaiters();
}

void Reconciler::FinishAction(const std::string& id) {
  busy_.erase(id);
  if (!observed_.count(id)) early_exits_.erase(id);
  MarkDirty();
  CheckWaiters();
}

bool Reconciler::IsReplicaReady(const ObservedContainer& c) const {
  auto r = replicas_.find(c.id);
  return IsReady(c, r == replicas_.end() ? nullptr : &r->second.memory,
                 FindService(c.deployment, c.service), clock_.SteadyNow());
}

bool Reconciler::ServiceConverged(const std::string& name, const std::string& service_name) const {
  auto d = desired_.find(name);
  if (d == desired_.end()) return false;
  auto service = d->second.spec.services.find(service_name);
  if (service == d->second.spec.services.end()) return false;
  std::vector<RolloutReplica> containers;
  for (const auto& [id, c] : observed_) {
    if (c.deployment != name || c.service != service_name) continue;
    auto r = replicas_.find(id);
    containers.push_back({c.replica, c.spec_hash, busy_.count(id) > 0, IsReplicaReady(c),
                          r != replicas_.end() && r->second.memory.exited_for_good});
  }
  return reconcile::ServiceConverged(service->second.scale.replicas,
                                     d->second.service_hashes.at(service_name), containers);
}

bool Reconciler::Converged(const std::string& name) const {
  auto d = desired_.find(name);
  if (d == desired_.end()) return false;
  for (const auto& [id, c] : observed_) {
    if (c.deployment == name && !d->second.spec.services.count(c.service)) return false;
  }
  for (const auto& [service_name, service] : d->second.spec.services) {
    if (!ServiceConverged(name, service_name)) return false;
  }
  return true;
}

std::string Reconciler::Failure(const std::string& name) const {
  auto d = desired_.find(name);
  if (d == desired_.end()) return "";
  for (const auto& [service_name, service] : d->second.spec.services) {
    auto s = services_.find(Key(name, service_name));
    if (s == services_.end()) continue;
    const RolloutMemory& rollout = s->second.rollout;
    if (rollout.state == RolloutState::kStopped &&
        rollout.hash == d->second.service_hashes.at(service_name)) {
      return service_name + ": rollout stopped: " + rollout.message;
    }
    if (s->second.dependencies.failed) {
      return service_name + ": " + s->second.dependencies.message;
    }
  }
  for (const auto& [id, r] : replicas_) {
    if (r.deployment == name && r.memory.exited_for_good && r.state == ReplicaState::kFailed &&
        !observed_.count(id) && !busy_.count(id)) {
      return r.service + ": replica " + id + " failed: " + r.reason;
    }
  }
  return "";
}

uint32_t Reconciler::ReadyCount(const std::string& deployment, const std::string& service,
                                bool running_is_enough) const {
  std::set<uint32_t> slots;
  for (const auto& [id, c] : observed_) {
    if (c.deployment != deployment || c.service != service) continue;
    if (running_is_enough ? IsRunning(c) || IsReplicaReady(c) : IsReplicaReady(c)) {
      slots.insert(c.replica);
    }
  }
  return static_cast<uint32_t>(slots.size());
}

bool Reconciler::DependencyMet(const std::string& deployment,
                               const spec::Dependency& dependency) const {
  const spec::Service* target = FindService(deployment, dependency.service);
  if (target == nullptr) return true;  // the parser rejects unknown services
  const bool started = dependency.condition == spec::DependencyCondition::kStarted;
  return ReadyCount(deployment, dependency.service, started) >= target->scale.replicas;
}

std::map<std::string, ServiceGate> Reconciler::Gates(SteadyTime now,
                                                     std::optional<SteadyTime>& wake_at) {
  std::map<std::string, ServiceGate> gates;
  for (const auto& [name, d] : desired_) {
    for (const auto& [service_name, service] : d.spec.services) {
      ServiceState& state = services_[Key(name, service_name)];
      ServiceGate& gate = gates[Key(name, service_name)];
      if (state.rollout.state == RolloutState::kStopped) {
        gate.stopped_rollout_hash = state.rollout.hash;
      }
      const DependencyVerdict verdict = JudgeDependencies(
          service, state.dependencies, now,
          [&](const spec::Dependency& dependency) { return DependencyMet(name, dependency); });
      gate.blocked = verdict.blocked;
      if (verdict.wake_at && (!wake_at || *verdict.wake_at < *wake_at)) wake_at = verdict.wake_at;
      switch (verdict.event) {
        case DependencyEvent::kNone:
          break;
        case DependencyEvent::kMet:
          log_.Info("{}/{}: dependencies met", name, service_name);
          break;
        case DependencyEvent::kGaveUp:
          log_.Error("{}/{}: {}", name, service_name, state.dependencies.message);
          break;
        case DependencyEvent::kStartedAnyway:
          log_.Warn("{}/{}: {} did not happen within {}; starting anyway", name, service_name,
                    verdict.what, FormatDuration(verdict.timeout));
          break;
      }
    }
  }
  return gates;
}

void Reconciler::UpdateRollouts() {
  for (auto& [key, state] : services_) {
    // Only a rollout in progress can complete: spare the others the convergence check.
    if (state.rollout.state != RolloutState::kInProgress) continue;
    const size_t slash = key.find('/');
    const bool converged = ServiceConverged(key.substr(0, slash), key.substr(slash + 1));
    if (JudgeRolloutProgress(state.rollout, converged) == RolloutEvent::kComplete) {
      log_.Info("{}: rollout of generation {} complete", key, state.rollout.generation);
    }
  }
}

void Reconciler::CheckWaiters() {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    bool finished = false;
    Status result = Status::Ok();
    if (it->generation == 0) {  // deletion
      bool left = false;
      for (const auto& [id, c] : observed_) left = left || c.deployment == it->deployment;
      finished = !left;
      if (finished && !desired_.count(it->deployment)) deleted_.erase(it->deployment);
    } else {
      auto d = desired_.find(it->deployment);
      if (d == desired_.end()) {
        finished = true;
        result = Status(StatusCode::kAborted, "deployment " + it->deployment + " was deleted");
      } else {
        finished = d->second.generation >= it->generation && Converged(it->deployment);
        if (!finished && d->second.generation >= it->generation) {
          std::string failure = Failure(it->deployment);
          if (!failure.empty()) {
            finished = true;
            result = Status(StatusCode::kFailedPrecondition, failure);
          }
        }
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
    r.policy.emplace(service->restart_policy, service->rtype,
                     [this] { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); });
  }
  return r;
}

std::vector<DeploymentView> Reconciler::Deployments() const {
  std::map<std::string, DeploymentView> views;
  for (const auto& [name, d] : desired_) {
    DeploymentView& view = views[name];
    view.name = name;
    view.generation = d.generation;
    view.converged = Converged(name);
    view.failure = Failure(name);
    for (const auto& [service_name, service] : d.spec.services) {
      ServiceView sv;
      sv.name = service_name;
      sv.desired_replicas = service.scale.replicas;
      sv.ready_replicas = ReadyCount(name, service_name, false);
      sv.job = service.rtype == spec::ResourceType::kJob;
      auto state = services_.find(Key(name, service_name));
      if (state != services_.end()) {
        const ServiceState& st = state->second;
        sv.message = st.dependencies.message;
        sv.failed = st.dependencies.failed;
        if (st.rollout.state) {
          StrategyChoice choice = ChooseUpdateStrategy(service);
          sv.has_rollout = true;
          sv.strategy = choice.strategy;
          sv.strategy_reason = choice.reason;
          sv.rollout_state = *st.rollout.state;
          sv.rollout_message = st.rollout.message;
          sv.rollout_generation = st.rollout.generation;
          std::set<uint32_t> updated;
          for (const auto& [id, c] : observed_) {
            if (c.deployment == name && c.service == service_name &&
                c.spec_hash == st.rollout.hash && IsReplicaReady(c)) {
              updated.insert(c.replica);
            }
          }
          sv.updated = static_cast<uint32_t>(updated.size());
        }
      }
      view.services.push_back(std::move(sv));
    }
  }
  auto fill_known = [this](const Replica& k, ReplicaView& r) {
    r.state = k.state;
    r.exit_status = k.exit_status;
    r.restarts = k.policy ? k.policy->restarts() : 0;
    r.reason = k.reason;
    r.started_at = k.started_at;
    r.next_restart = k.next_restart_wall;
    r.generation = k.generation;
    r.health = k.health;
    r.restart_history.assign(k.restart_history.begin(), k.restart_history.end());
    (void)this;
  };
  for (const auto& [id, c] : observed_) {
    DeploymentView& view = views[c.deployment];
    view.name = c.deployment;
    ReplicaView r;
    r.id = id;
    r.deployment = c.deployment;
    r.service = c.service;
    r.replica = c.replica;
    if (const spec::Service* s = FindService(c.deployment, c.service)) r.image = s->image.name;
    auto d = desired_.find(c.deployment);
    r.current = d == desired_.end() || !d->second.service_hashes.count(c.service) ||
                d->second.service_hashes.at(c.service) == c.spec_hash;
    r.pid = IsRunning(c) ? c.pid : 0;
    r.address = network_.AddressOf(id);
    r.stop_signal = StopSignal(FindService(c.deployment, c.service), c.recorded_stop_signal);
    auto known = replicas_.find(id);
    if (known != replicas_.end()) {
      fill_known(known->second, r);
    } else {
      r.state = IsRunning(c) ? ReplicaState::kRunning
                : c.has_task ? ReplicaState::kExited
                             : ReplicaState::kCreated;
    }
    if (IsRunning(c) && !busy_.count(id)) r.state = ReplicaState::kRunning;
    if (!IsRunning(c)) r.health.reset();
    r.ready = r.state == ReplicaState::kRunning && IsReplicaReady(c);
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
    fill_known(k, r);
    r.stop_signal = StopSignal(FindService(k.deployment, k.service), std::nullopt);
    r.health.reset();
    views[k.deployment].replicas.push_back(std::move(r));
  }
  std::vector<DeploymentView> out;
  for (auto& [name, view] : views) {
    std::sort(view.replicas.begin(), view.replicas.end(),
              [](const ReplicaView& a, const ReplicaView& b) {
                return std::tie(a.service, a.replica, a.id) < std::tie(b.service, b.replica, b.id);
              });
    out.push_back(std::move(view));
  }
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
