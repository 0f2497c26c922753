// The reconciler: the one owner of the agent's deployment state.
//
// It holds the desired deployments, the observed containers, and per replica
// what the agent knows beyond containerd (restart policy, last exit, errors).
// Every public method must be called on the event loop (`loop`); blocking
// work goes to a pool (`images` for PrepareImage, which may pull; `lifecycle`
// for the other ReplicaOperations, each short) and its result is posted back
// to `loop`. Nothing here blocks the loop, and nothing here is locked: state
// is confined to it.
//
// Stops hold no thread: the stop signal is sent on the lifecycle pool, the
// exit is awaited on the loop (containerd's /tasks/exit event, OnTaskExit)
// with a grace timer; when the timer fires first the task gets SIGKILL and is
// awaited again (Options::kill_wait), then its task is deleted on the pool.
//
// Level-triggered: every change marks the state dirty and schedules one plan
// (coalesced); a periodic resync re-reads containerd so that missed events
// only delay convergence.
//
// Time enters only through `clock` (common/clock.h): back-off, grace periods,
// dependency timeouts and the resync are its alarms, so tests run them in
// virtual time.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "agent/reconcile/gates.h"
#include "agent/reconcile/planner.h"
#include "agent/reconcile/replica_operations.h"
#include "agent/reconcile/restart_policy.h"
#include "agent/reconcile/rollouts.h"
#include "agent/reconcile/states.h"
#include "common/clock.h"
#include "common/log.h"

namespace zlayer::reconcile {

// One restart of a replica, for `zlayer inspect`.
struct RestartView {
  std::optional<std::chrono::system_clock::time_point> restarted_at;  // unset until it ran again
  std::chrono::system_clock::time_point exited_at;
  uint32_t exit_status = 0;
  std::string reason;  // "OOMKilled", "Unhealthy", "" (plain exit)
  std::string cause;   // "exit" (restart policy) or "unhealthy" (health checks)
  std::chrono::nanoseconds backoff{0};
};

// What `zlayer ps` shows per replica.
struct ReplicaView {
  std::string id;
  std::string deployment;
  std::string service;
  uint32_t replica = 0;
  std::string image;
  std::string address;  // its own IPv4 address (network_mode default); "" without one
  ReplicaState state = ReplicaState::kCreating;
  pid_t pid = 0;
  std::optional<uint32_t> exit_status;  // of the last run
  uint32_t restarts = 0;
  std::string reason;  // why it is not running ("OOMKilled", an error, ...)
  std::optional<std::chrono::system_clock::time_point> started_at;
  std::optional<std::chrono::system_clock::time_point> next_restart;
  std::optional<ReplicaHealth> health;  // unset without a health check or when not running
  // Running, not being stopped, and ready as rollouts count it (healthy; or
  // adopted after an agent restart while its checks start over): may receive
  // new connections through its service's address.
  bool ready = false;
  bool current = true;      // runs the service's current spec (false: an old replica in a rollout)
  uint64_t generation = 0;  // the deployment generation it was created for (0: unknown)
  int stop_signal = 15;     // what stops it (StopSignal: the spec's, the image's, SIGTERM)
  std::vector<RestartView> restart_history;  // oldest first, the last 20
};

struct ServiceView {
  std::string name;
  uint32_t desired_replicas = 0;
  uint32_t ready_replicas = 0;
  bool job = false;
  // The last rollout (a spec change of a service that had replicas).
  bool has_rollout = false;
  UpdateStrategy strategy = UpdateStrategy::kRolling;
  std::string strategy_reason;
  RolloutState rollout_state = RolloutState::kInProgress;
  std::string rollout_message;
  uint64_t rollout_generation = 0;
  uint32_t updated = 0;  // slots running the new spec
  // Dependencies: "waiting for db to be healthy (12s of 300s)", or why they failed.
  std::string message;
  bool failed = false;  // a dependency timed out with on_timeout: fail
};

struct DeploymentView {
  std::string name;
  uint64_t generation = 0;
  bool converged = false;  // every wanted replica exists with the current spec, ready
  // Non-empty when the deployment cannot converge without a new spec: a rollout
  // stopped, or a dependency timed out.
  std::string failure;
  std::vector<ReplicaView> replicas;
  std::vector<ServiceView> services;
};

class Reconciler {
 public:
  struct Options {
    std::chrono::nanoseconds resync_interval = std::chrono::seconds(30);
    // Restart a replica whose health check says unhealthy (its restart policy
    // then decides, as for an exit). ZLAYER_RESTART_UNHEALTHY.
    bool restart_unhealthy = true;
    // How long a stop waits for the exit after SIGKILL before it reports an error.
    std::chrono::nanoseconds kill_wait = std::chrono::seconds(10);
  };
  // All references must outlive the reconciler. `clock` is `loop`'s.
  Reconciler(boost::asio::io_context& loop, boost::asio::thread_pool& lifecycle,
             boost::asio::thread_pool& images, Clock& clock, ReplicaOperations& operations,
             OutputAttacher& output, HealthWatcher& health, ReplicaNetwork& network, Logger& log,
             Options options);

  // Reads containerd (ObserveAll), re-attaches the FIFO drains of every
  // running container (adoption: nothing is restarted because the agent
  // restarted), then plans. `done` runs on the loop once observed state is
  // known (with the error if containerd could not be read; the reconciler
  // then retries on its own).
  void Start(std::vector<DesiredDeployment> loaded, std::function<void(Status)> done);

  // Sets the desired state of one deployment (already validated and
  // persisted by the caller) and reconciles.
  void Apply(DesiredDeployment deployment);

  // Forgets a deployment and removes its containers; `done` runs once none
  // is left (or with an error when removing one failed).
  void Delete(const std::string& name, std::function<void(Status)> done);

  // Calls `done` once the deployment has converged at `generation` or later,
  // with kAborted when it is deleted, or kFailedPrecondition when it cannot
  // converge (DeploymentView::failure). Progress is visible in Deployments().
  void WaitConverged(const std::string& name, uint64_t generation,
                     std::function<void(Status)> done);

  // Events from containerd (posted to the loop by the caller).
  // An exit of process `pid`; exits of older tasks of the container are
  // ignored, and one that arrives before its Start completed is held until then.
  // An exit of a task being stopped ends its stop (also during shutdown).
  void OnTaskExit(const std::string& container_id, pid_t pid, uint32_t exit_status,
                  std::chrono::system_clock::time_point exited_at);
  void OnTaskOom(const std::string& container_id);
  // containerd came back after being unreachable: re-read everything.
  void Resync();

  // Node shutdown: stops planning, restarting and health checking, and returns
  // how to stop every running task (each service's stop signal, its grace
  // period capped at `max_grace`). Desired state is kept: after the next
  // start the same replicas come back. The caller runs StopAll with the answer.
  std::vector<StopRequest> PrepareShutdown(std::chrono::nanoseconds max_grace);

  // Stops every task of `requests` at once, as node shutdown needs: all
  // signals are sent first; each task gets SIGKILL when its own grace ends
  // without an exit, and is deleted as soon as it has exited; so the whole
  // takes about the longest grace (plus kill_wait at worst), not their sum.
  // Containers are kept. `done` runs on the loop once every task is deleted or
  // given up on, with the first error. Exit events must keep reaching
  // OnTaskExit until then. A container already being stopped is stopped once,
  // by the earlier of the two ends of grace.
  void StopAll(std::vector<StopRequest> requests, std::function<void(Status)> done);

  // Calls `on_change` (on the loop) after every plan: every change of what
  // Deployments() shows goes through one. For progress streams that would
  // otherwise poll. Returns an id for Unsubscribe.
  uint64_t Subscribe(std::function<void()> on_change);
  void Unsubscribe(uint64_t id);

  bool HasDeployment(const std::string& name) const { return desired_.count(name) > 0; }
  // The desired spec of a service; nullptr when there is none.
  const spec::Service* ServiceSpec(const std::string& deployment,
                                   const std::string& service) const {
    return FindService(deployment, service);
  }
  std::optional<uint64_t> Generation(const std::string& name) const;
  std::vector<DeploymentView> Deployments() const;
  // The replicas (by container id) of a deployment or service, for `logs`.
  std::vector<std::string> ContainersOf(const std::string& deployment,
                                        const std::string& service) const;

 private:
  struct Replica {
    std::string deployment;  // known once an action named it
    std::string service;
    uint32_t index = 0;
    uint64_t generation = 0;
    std::optional<ReplicaRestartPolicy> policy;
    ReplicaState state = ReplicaState::kCreating;
    std::string reason;
    std::optional<uint32_t> exit_status;
    bool oom_killed = false;
    std::optional<std::chrono::system_clock::time_point> started_at;
    std::optional<std::chrono::system_clock::time_point> next_restart_wall;
    ReplicaMemory memory;
    std::optional<HealthWatcher::Verdict> health;  // with a health check, of the current run
    bool ever_ready = false;                       // since it was created: rollouts wait for this
    std::deque<RestartView> restart_history;
  };

  // Per "<deployment>/<service>": rollout and dependency state.
  struct ServiceState {
    RolloutMemory rollout;        // rollouts.h
    DependencyWait dependencies;  // gates.h
  };

  void MarkDirty();
  void PlanNow();
  void Execute(const Action& action);
  void RunCreate(const Action& action, bool replace);
  void RunStart(const Action& action);
  // The second half of RunStart, once the output is attached: the task, on the pool.
  void StartTask(const std::string& id);
  // The service's stop signal and grace period for container `id`.
  StopRequest StopRequestFor(const std::string& id, const std::string& deployment,
                             const std::string& service) const;
  // PrepareImage on the images pool, then Create on the lifecycle pool, then RunStart.
  void PrepareAndCreate(const Action& action, spec::Deployment spec, spec::Service service,
                        std::string hash);
  void EnterBackoff(Replica& r, std::chrono::nanoseconds delay);
  void RecordRestart(Replica& r, RestartView restart);
  // Stops and removes containers, all at once (StopTask each).
  void RunRemoves(std::vector<Action> actions);
  void OnRemoved(const std::string& id, const Status& status);

  // One stop in progress (see the top of this file).
  struct PendingStop {
    enum class Phase {
      kDraining,  // ReplicaNetwork::Drain, before the stop signal (not for SIGKILL)
      kSignalling,
      kGrace,
      kKilling,
      kAfterKill,
      kChecking,
      kDeleting
    };
    uint64_t serial = 0;  // tells this stop from a later one of the same container
    StopRequest request;
    pid_t pid = 0;  // of the task being stopped; 0: unknown, any exit of the container counts
    Phase phase = Phase::kSignalling;
    bool exited = false;
    SteadyTime deadline;  // when the grace ends
    Alarm timer;          // the end of grace, or of kill_wait
    std::vector<std::function<void(Status)>> done;
  };
  // Stops container `id`'s task and deletes it; `done` on the loop (OK when it
  // had no task). A second stop of the same container joins the first.
  void StopTask(const StopRequest& request, std::function<void(Status)> done);
  void SendStopSignal(PendingStop& stop, int signal);
  void OnStopSignalled(const std::string& id, uint64_t serial, Status status);
  void ArmStopTimer(PendingStop& stop, SteadyTime at);
  void OnStopTimer(const std::string& id, uint64_t serial, PendingStop::Phase phase);
  void DeleteStoppedTask(PendingStop& stop);
  void FinishStop(const std::string& id, const Status& status);
  PendingStop* FindStop(const std::string& id, uint64_t serial);
  void OnStartFailed(const std::string& id, const Status& status);
  void FinishAction(const std::string& id);
  void ObserveAndPlan();
  void OnHealth(const std::string& id, HealthWatcher::Verdict verdict, const std::string& output);
  void RestartUnhealthy(const std::string& id, const std::string& output);
  // Replica `id` failed before it was ever ready: OnReplicaFailedBeforeReady
  // for its service's rollout (rollouts.h), logged.
  void CheckRolloutFailure(const std::string& id, const std::string& why);
  // JudgeRolloutProgress for every service with a rollout in progress, logged.
  void UpdateRollouts();
  std::map<std::string, ServiceGate> Gates(SteadyTime now, std::optional<SteadyTime>& wake_at);
  bool DependencyMet(const std::string& deployment, const spec::Dependency& dependency) const;
  uint32_t ReadyCount(const std::string& deployment, const std::string& service,
                      bool running_is_enough) const;
  bool IsReplicaReady(const ObservedContainer& c) const;
  std::string Failure(const std::string& name) const;
  void Unwatch(const std::string& id);
  // Starts the health checks of a new run of `id`, aimed at its address.
  void WatchHealth(const std::string& id, const spec::Health& health);
  void CheckWaiters();
  bool Converged(const std::string& name) const;
  // reconcile::ServiceConverged (rollouts.h) on the service's current spec.
  bool ServiceConverged(const std::string& name, const std::string& service) const;
  const spec::Service* FindService(const std::string& deployment, const std::string& service) const;
  Replica& ReplicaFor(const std::string& id, const spec::Service* service);

  boost::asio::io_context& loop_;
  boost::asio::thread_pool& lifecycle_;
  boost::asio::thread_pool& images_;
  Clock& clock_;
  ReplicaOperations& operations_;
  OutputAttacher& output_;
  HealthWatcher& health_;
  ReplicaNetwork& network_;
  Logger& log_;
  Options options_;
  Alarm wake_;    // the next plan that time alone calls for (back-off, a dependency's timeout)
  Alarm resync_;  // the next Resync
  std::mt19937 rng_{std::random_device{}()};

  bool started_ = false;
  bool shutting_down_ = false;
  bool plan_scheduled_ = false;
  bool observing_ = false;
  std::map<std::string, DesiredDeployment> desired_;
  // Deleted deployments' last specs, until their containers are gone: their
  // replicas stop with their own signal and grace period.
  std::map<std::string, spec::Deployment> deleted_;
  std::map<std::string, ObservedContainer> observed_;
  std::map<std::string, Replica> replicas_;
  std::map<std::string, ServiceState> services_;
  std::set<std::string> busy_;
  std::map<std::string, std::pair<pid_t, uint32_t>> early_exits_;  // id → (pid, status)
  struct Waiter {
    std::string deployment;
    uint64_t generation = 0;  // 0: wait for deletion
    std::function<void(Status)> done;
  };
  std::vector<Waiter> waiters_;
  std::vector<Action> pending_removes_;  // collected by Execute during one plan
  std::map<uint64_t, std::function<void()>> listeners_;
  std::map<std::string, std::unique_ptr<PendingStop>> stops_;  // by container id
  uint64_t next_stop_ = 1;
  uint64_t next_listener_ = 1;
};

}  // namespace zlayer::reconcile
