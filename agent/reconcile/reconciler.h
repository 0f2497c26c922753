// The reconciler: the one owner of the agent's deployment state.
//
// It holds the desired deployments, the observed containers, and per replica
// what the agent knows beyond containerd (restart policy, last exit, errors).
// Every public method must be called on the event loop (`loop`); blocking
// work goes to `workers` and its result is posted back to `loop`. Nothing
// here blocks the loop, and nothing here is locked: state is confined to it.
//
// Level-triggered: every change marks the state dirty and schedules one plan
// (coalesced); a periodic resync re-reads containerd so that missed events
// only delay convergence.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "agent/reconcile/planner.h"
#include "agent/reconcile/replica_operations.h"
#include "agent/reconcile/restart_policy.h"
#include "common/log.h"

namespace zlayer::reconcile {

// What `zlayer ps` shows per replica.
struct ReplicaView {
  std::string id;
  std::string deployment;
  std::string service;
  uint32_t replica = 0;
  std::string image;
  std::string state;  // creating, starting, running, backoff, exited, completed, failed, removing
  pid_t pid = 0;
  std::optional<uint32_t> exit_status;  // of the last run
  uint32_t restarts = 0;
  std::string reason;  // why it is not running ("OOMKilled", an error, ...)
  std::optional<std::chrono::system_clock::time_point> started_at;
  std::optional<std::chrono::system_clock::time_point> next_restart;
};

struct DeploymentView {
  std::string name;
  uint64_t generation = 0;
  bool converged = false;  // every wanted replica exists with the current spec and runs
  std::vector<ReplicaView> replicas;
};

class Reconciler {
 public:
  Reconciler(boost::asio::io_context& loop, boost::asio::thread_pool& workers,
             ReplicaOperations& operations, OutputAttacher& output, Logger& log,
             std::chrono::nanoseconds resync_interval = std::chrono::seconds(30));

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
  // or with kAborted when it is deleted. Progress is visible in Deployments().
  void WaitConverged(const std::string& name, uint64_t generation,
                     std::function<void(Status)> done);

  // Events from containerd (posted to the loop by the caller).
  // An exit of process `pid`; exits of older tasks of the container are
  // ignored, and one that arrives before its Start completed is held until then.
  void OnTaskExit(const std::string& container_id, pid_t pid, uint32_t exit_status,
                  std::chrono::system_clock::time_point exited_at);
  void OnTaskOom(const std::string& container_id);
  // containerd came back after being unreachable: re-read everything.
  void Resync();

  bool HasDeployment(const std::string& name) const { return desired_.count(name) > 0; }
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
    std::optional<ReplicaRestartPolicy> policy;
    std::string state = "creating";
    std::string reason;
    std::optional<uint32_t> exit_status;
    bool oom_killed = false;
    std::optional<std::chrono::system_clock::time_point> started_at;
    std::optional<std::chrono::system_clock::time_point> next_restart_wall;
    ReplicaMemory memory;
  };

  void MarkDirty();
  void PlanNow();
  void Execute(const Action& action);
  void RunCreate(const Action& action, bool replace);
  void RunStart(const Action& action);
  void RunRemove(const Action& action);
  void OnStartFailed(const std::string& id, const Status& status);
  void FinishAction(const std::string& id);
  void ObserveAndPlan();
  void CheckWaiters();
  bool Converged(const std::string& name) const;
  const spec::Service* FindService(const std::string& deployment, const std::string& service) const;
  Replica& ReplicaFor(const std::string& id, const spec::Service* service);

  boost::asio::io_context& loop_;
  boost::asio::thread_pool& workers_;
  ReplicaOperations& operations_;
  OutputAttacher& output_;
  Logger& log_;
  std::chrono::nanoseconds resync_interval_;
  boost::asio::steady_timer plan_timer_;
  boost::asio::steady_timer wake_timer_;
  boost::asio::steady_timer resync_timer_;
  std::mt19937 rng_{std::random_device{}()};

  bool started_ = false;
  bool plan_scheduled_ = false;
  bool observing_ = false;
  std::map<std::string, DesiredDeployment> desired_;
  std::map<std::string, ObservedContainer> observed_;
  std::map<std::string, Replica> replicas_;
  std::set<std::string> busy_;
  std::map<std::string, std::pair<pid_t, uint32_t>> early_exits_;  // id → (pid, status)
  struct Waiter {
    std::string deployment;
    uint64_t generation = 0;  // 0: wait for deletion
    std::function<void(Status)> done;
  };
  std::vector<Waiter> waiters_;
};

}  // namespace zlayer::reconcile
