// The adapters agent/daemon plugs into the application layer and the
// reconciler: each implements an interface of agent/node or agent/reconcile
// over one of the agent's modules, and nothing else.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/containerd/client.h"
#include "agent/health/health_monitor.h"
#include "agent/health/prober.h"
#include "agent/images/image_store.h"
#include "agent/images/importer.h"
#include "agent/images/puller.h"
#include "agent/logs/container_io.h"
#include "agent/logs/log_file.h"
#include "agent/network/network_manager.h"
#include "agent/node/image_catalog.h"
#include "agent/reconcile/replica_operations.h"
#include "agent/registry/client.h"
#include "common/config.h"
#include "common/log.h"

namespace zlayer::agent::logs {
class LogHub;
}

namespace zlayer::agent::daemon {

// The FIFO drains of every container the node runs (agent/logs), for the
// reconciler. Called on the loop.
class OutputDrains : public reconcile::OutputAttacher {
 public:
  // Every reference must outlive this.
  // File work (directories, FIFOs, log files) runs on `files` (the files pool), in
  // order for each container: the removal of a Detach runs after the preparation of
  // an Attach asked for before it, so nothing that preparation creates stays behind.
  OutputDrains(boost::asio::io_context& loop, boost::asio::any_io_executor files,
               const NodeConfig& config, logs::LogHub& hub, Logger& log,
               logs::LogFileOptions rotation);
  void Attach(const std::string& id, std::function<void(Status)> done) override;
  void Detach(const std::string& id, bool remove_logs) override;

 private:
  boost::asio::io_context& loop_;
  boost::asio::any_io_executor files_;
  const NodeConfig& config_;
  logs::LogHub& hub_;
  Logger& log_;
  logs::LogFileOptions rotation_;
  std::map<std::string, std::unique_ptr<logs::ContainerIo>> open_;
  // Attaches whose files are being prepared, with everyone waiting for them; an id
  // detached meanwhile is dropped from here and that preparation's result is dropped,
  // also when a later Attach of the same id is preparing by then (another attempt).
  struct Preparing {
    uint64_t attempt = 0;
    std::vector<std::function<void(Status)>> waiting;
  };
  std::map<std::string, Preparing> preparing_;
  uint64_t attempts_ = 0;
  // Each container's file work: a strand over `files_`, kept while jobs are pending.
  struct Lane {
    boost::asio::strand<boost::asio::any_io_executor> strand;
    int pending = 0;
  };
  std::map<std::string, Lane> lanes_;

  // Runs `work` on the lane of `id` (after every job asked for before on it), then
  // `done` with its result on the loop.
  template <typename Work, typename Done>
  void OnLane(const std::string& id, Work work, Done done);
  // Ends the attach of `id` in progress: every waiter gets `status`.
  void Finish(const std::string& id, const Status& status);
};

// The reconciler's health checks, run by agent/health: tcp and http probes on
// the loop, command probes (containerd Exec) on a pool of their own, so slow
// commands never hold up the pools that create and start containers.
class HealthChecks : public reconcile::HealthWatcher {
 public:
  HealthChecks(boost::asio::io_context& loop, containerd::Client& client, const NodeConfig& config,
               Logger& log);
  ~HealthChecks() override;
  void Watch(const std::string& id, const std::string& address, const spec::Health& health,
             OnChange on_change) override;
  void Unwatch(const std::string& id) override;
  std::vector<reconcile::HealthCheckRecord> History(const std::string& id) const override;

 private:
  boost::asio::thread_pool probe_pool_{2};
  std::unique_ptr<health::Prober> prober_;
  health::HealthMonitor monitor_;
};

// Each replica's network (agent/network) for the reconciler: network_mode
// default attaches to the deployment's bridge, none gets loopback only, host
// nothing. Called on the loop.
class ReplicaNetworks : public reconcile::ReplicaNetwork {
 public:
  // `manager` must outlive this.
  explicit ReplicaNetworks(network::NetworkManager& manager) : manager_(manager) {}
  void Attach(const std::string& id, const std::string& deployment, const spec::Service& service,
              std::function<void(Result<reconcile::AttachedNetwork>)> done) override;
  void Detach(const std::string& id, std::function<void(Status)> done) override;
  std::string AddressOf(const std::string& id) const override;
  void ReleaseDeployment(const std::string& deployment) override;
  void Prune(std::set<std::string> containers, std::set<std::string> deployments) override;
  void Drain(const std::string& id, std::chrono::steady_clock::time_point deadline,
             std::function<void()> done) override;

  // Who takes replicas out of rotation (the ingress). Until one is set,
  // Drain answers at once.
  using Drainer =
      std::function<void(const std::string& id, std::chrono::steady_clock::time_point deadline,
                         std::function<void()> done)>;
  void SetDrainer(Drainer drainer) { drainer_ = std::move(drainer); }

 private:
  network::NetworkManager& manager_;
  Drainer drainer_;
};

// The node's images (agent/images) as the application layer sees them.
class StoreImageCatalog : public node::ImageCatalog {
 public:
  // Every reference must outlive this.
  StoreImageCatalog(images::ImageStore& store, images::Importer& importer, images::Puller& puller,
                    int pull_concurrency);
  Result<std::vector<node::ImageInfo>> Import(const std::string& path, const std::string& name,
                                              const OnProgress& on_progress) override;
  Status CheckPlatform(const std::string& platform) override;
  Result<node::ImageInfo> Pull(
      const std::string& reference, const std::string& platform,
      const std::function<void(const node::PullResolvedInfo&)>& on_resolved,
      const OnProgress& on_progress) override;
  Result<std::vector<node::ImageInfo>> List() override;
  Status Remove(const std::string& reference) override;

 private:
  images::ImageStore& store_;
  images::Importer& importer_;
  images::Puller& puller_;
  int pull_concurrency_;
};

// ---- settings read from the environment; a bad value is logged and the default kept ----

// Registry access: insecure hosts, and the credentials of ZLAYER_REGISTRY_CONFIG and
// $DOCKER_CONFIG/config.json, read when a registry asks for them (a malformed file is
// reported and skipped). `log` must outlive the result.
registry::RegistryOptions RegistryOptionsFrom(const NodeConfig& config, const Environment& env,
                                              Logger& log);
// Container log rotation from ZLAYER_LOG_MAX_SIZE ("10Mi", bytes, K/M/G and Ki/Mi/Gi) and
// ZLAYER_LOG_MAX_FILES.
logs::LogFileOptions LogRotation(const Environment& env, Logger& log);
// ZLAYER_RESTART_UNHEALTHY: true (default) or false.
bool RestartUnhealthy(const Environment& env, Logger& log);

}  // namespace zlayer::agent::daemon
