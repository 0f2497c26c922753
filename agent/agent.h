// zlayer-agent: everything the agent is, wired together.
//
// Threads:
//   - the event loop (`loop()`, one thread, Run()) owns all state: the
//     reconciler, the containers' output drains, the log hub, the node's
//     status. API reactions and containerd event callbacks post to it.
//   - a small worker pool runs blocking work (containerd calls, file I/O,
//     image import) and posts results back.
//   - gRPC's own threads run the API reactions (agent/api), which only post.
//
// Start-up order (subscribe before you act): signals, containerd connection
// and its event stream, desired state from disk, adoption of running
// containers, the API socket, READY=1 to the supervisor. The watchdog is fed
// from the loop itself, so a stuck loop stops the pings.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/api/node_health.h"
#include "agent/containerd/client.h"
#include "agent/exec/exec_session.h"
#include "agent/reconcile/reconciler.h"
#include "agent/spec/problem.h"
#include "common/config.h"
#include "common/log.h"

namespace zlayer::agent {

namespace logs {
class LogHub;
}

// What Deploy decided, per service.
struct ServiceChange {
  enum class Kind { kAdd, kUpdate, kScale, kUnchanged, kRemove };
  std::string service;
  Kind kind = Kind::kUnchanged;
  uint32_t replicas_before = 0;
  uint32_t replicas_after = 0;
  // kUpdate only: how replicas are replaced, and why (planner.h).
  reconcile::StrategyChoice strategy;
};

struct DeployResult {
  std::vector<spec::Problem> problems;  // non-empty: rejected, nothing changed
  std::string deployment;
  uint64_t generation = 0;
  bool changed = false;
  bool dry_run = false;
  std::vector<ServiceChange> changes;
};

struct ImageInfo {
  std::string name;
  std::string digest;
  std::string media_type;
  int64_t size = 0;
  bool unpacked = false;
};

// Progress of one blob of an import; `phase` numbers as zlayer.v1.BlobProgress.Phase
// (1 waiting, 2 fetching, 3 exists, 4 verified, 5 unpacking, 6 unpacked).
struct ImportProgress {
  std::string digest;
  std::string media_type;
  int64_t size = 0;
  int64_t offset = 0;
  int phase = 0;
};

// What a pull resolved to, before any layer is fetched.
struct PullResolvedInfo {
  std::string name;
  std::string digest;    // of the index or manifest the name points at
  std::string platform;  // "linux/amd64"
  std::vector<ImportProgress> blobs;  // config, then layers; phase 1 (waiting)
};

struct NodeStatus {
  bool containerd_reachable = false;
  std::string containerd_version;
  std::string containerd_error;
  std::string namespace_name;
  std::string snapshotter;
  std::string runtime;
  std::string socket;
  std::chrono::system_clock::time_point started_at;
  // No counts here: Status counts from Deployments() and the image list, as ps and images do.
};

// `zlayer scale`: the count before, and the generation it made (unchanged when
// the count already was `replicas`).
struct ScaleResult {
  uint32_t previous_replicas = 0;
  uint64_t generation = 0;
};

// `zlayer inspect`: one replica, with the container as containerd holds it.
struct ReplicaDetail {
  reconcile::ReplicaView replica;
  std::optional<containerd::ContainerRecord> container;  // unset if it has none (yet)
  std::string log_path;
  std::string stop_signal;  // e.g. "SIGTERM"
  std::chrono::nanoseconds stop_grace_period{0};
  std::vector<reconcile::HealthCheckRecord> health_history;
};

class Agent {
 public:
  Agent(NodeConfig config, Environment env, Logger& log);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs until SIGTERM or SIGINT; returns the process exit code.
  int Run();

  boost::asio::io_context& loop() { return loop_; }
  const NodeConfig& config() const { return config_; }

  // ---- everything below: call on the loop; callbacks run on the loop ----

  // Validates `yaml`, stores it (unless dry_run) and hands it to the reconciler.
  void Deploy(std::string yaml, std::string source, bool dry_run,
              std::function<void(Result<DeployResult>)> done);
  void WaitConverged(const std::string& name, uint64_t generation,
                     std::function<void(Status)> done);
  // Forgets the deployment and removes its containers; `done` gets the number
  // of replicas stopped, after they are gone when `wait`.
  void Delete(const std::string& name, bool wait, std::function<void(Result<uint32_t>)> done);
  // Sets the replica count of one service (stored like a deploy, as a new
  // generation) and reconciles. kNotFound naming the deployment or service.
  void Scale(const std::string& deployment, const std::string& service, uint32_t replicas,
             std::function<void(Result<ScaleResult>)> done);
  // Details of every replica `target` names (see ResolveTarget).
  void Inspect(const std::string& target, std::function<void(Result<std::vector<ReplicaDetail>>)> done);
  std::vector<reconcile::DeploymentView> Deployments() const;
  // `on_change` runs on the loop whenever Deployments() may have changed.
  uint64_t WatchDeployments(std::function<void()> on_change);
  void UnwatchDeployments(uint64_t id);
  // Container ids a target names: "<deployment>-<service>-<n>",
  // "DEPLOYMENT/SERVICE", "SERVICE" (unique across deployments) or
  // "DEPLOYMENT". kNotFound / kInvalidArgument naming the target.
  Result<std::vector<std::string>> ResolveTarget(const std::string& target) const;
  logs::LogHub& log_hub();
  // Starts `zlayer exec` in the replica `target` names (ResolveTarget; when
  // it names several, the running one with the lowest replica index, like
  // `kubectl exec deploy/x`). Callbacks run on the loop (exec_session.h).
  // kNotFound / kInvalidArgument for the target, kFailedPrecondition when no
  // chosen replica is running; later failures arrive as on_exit.
  Result<std::shared_ptr<exec::ExecSession>> StartExec(const std::string& target,
                                                       exec::ExecOptions options,
                                                       exec::ExecCallbacks callbacks);
  NodeStatus CurrentStatus() const;
  // The node's health (api/node_health.h): containerd as the loop knows it, and the
  // supervised-children file, read on the worker pool. `done` runs on the loop.
  void CheckHealth(std::function<void(api::NodeHealth)> done);

  void ImportImage(std::string path, std::string name,
                   std::function<void(const ImportProgress&)> on_progress,
                   std::function<void(Result<std::vector<ImageInfo>>)> done);
  // Pulls `reference` from its registry (images/puller.h) for `platform`
  // ("os/arch[/variant]"; "" for the node's). `on_resolved` once, then
  // `on_progress` per blob change, then `done` with the stored image.
  void PullImage(std::string reference, std::string platform,
                 std::function<void(const PullResolvedInfo&)> on_resolved,
                 std::function<void(const ImportProgress&)> on_progress,
                 std::function<void(Result<ImageInfo>)> done);
  void ListImages(std::function<void(Result<std::vector<ImageInfo>>)> done);
  // The number of images ListImages shows; the last count known when containerd is
  // unreachable or the listing fails (0 before the first).
  void CountImages(std::function<void(size_t)> done);
  void RemoveImage(std::string reference, bool force, std::function<void(Status)> done);

 private:
  class Impl;
  NodeConfig config_;
  boost::asio::io_context loop_;  // before impl_: its timers and drains are bound to it
  std::unique_ptr<Impl> impl_;
};

}  // namespace zlayer::agent
