// The node's application layer: what a user can ask of the node (deploy,
// delete, scale, inspect, resolve a target, exec, images, status, health),
// decided here over injected interfaces. agent/api adapts the gRPC API to this
// class and nothing else; agent/daemon builds it and feeds it containerd's
// connection state.
//
// Threads: every method is called on the loop and every callback runs on the
// loop. The accepted desired state lives here, confined to the loop. Nothing
// here blocks: parsing, store writes and file reads go to `files`, image work
// to `images`, read-only containerd calls to `queries`, exec's short calls to
// `lifecycle` (common/executors.h).
//
// Desired state: a deploy is accepted on the loop (its generation taken
// there, so concurrent deploys of one deployment are numbered in the order
// they are accepted), saved on one ordered lane, and handed to the reconciler
// once it is on disk. `accepted` is what the next deploy compares with;
// `saved` is what the store holds, so a failed save falls back to it.
#pragma once

#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/containerd/client.h"
#include "agent/exec/exec_session.h"
#include "agent/node/image_catalog.h"
#include "agent/node/node_health.h"
#include "agent/reconcile/reconciler.h"
#include "agent/spec/model.h"
#include "agent/spec/problem.h"
#include "agent/store/desired_state_store.h"
#include "common/config.h"
#include "common/executors.h"
#include "common/log.h"
#include "common/loop_lag.h"

namespace zlayer::agent::logs {
class LogHub;
}

namespace zlayer::agent::node {

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

struct NodeStatus {
  bool containerd_reachable = false;
  std::string containerd_version;
  std::string containerd_error;
  std::string namespace_name;
  std::string snapshotter;
  std::string runtime;
  std::string socket;
  std::chrono::system_clock::time_point started_at;
  // The event loop's lag (common/loop_lag.h); unset when the node has no monitor.
  std::optional<LoopLagStats> loop_lag;
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

// `zlayer routes`: one route of a public listener and the replicas behind it.
struct RouteView {
  std::string host;  // "" = any host
  std::string path;  // "" for tcp and udp
  std::string deployment;
  std::string service;
  std::string endpoint;
  uint16_t target_port = 0;
  uint16_t redirect_to_port = 0;  // a redirect to https on that port instead of a backend
  std::vector<reconcile::ReplicaView> replicas;  // every replica of the service
  std::set<std::string> in_rotation;             // the ids that receive new requests
  // https routes: the source of the certificate served for `host` ("user", "acme" or
  // "self-signed"; a route without host gets the default's). "" for other kinds, and
  // for an https route when the node has no certificate catalog.
  std::string certificate;
  // Why the certificate is not the one a browser would want: ACME's last error or its
  // refusal when ACME has one for the host, else the certificate's note. "" when the
  // certificate is the user's or ACME's.
  std::string certificate_note;
};
struct ListenerView {
  uint16_t port = 0;
  std::string kind;  // "http", "https", "tcp" or "udp"
  std::vector<RouteView> routes;
};

// `zlayer certs`: one certificate the TLS listeners serve, and ACME's state for its host.
struct CertificateView {
  std::string host;    // "" = the node's default (unknown or absent SNI)
  std::string source;  // "user", "acme" or "self-signed"
  std::chrono::system_clock::time_point not_after;
  // Why this source, e.g. "no certificate for a.example.com in /var/lib/zlayer/certs:
  // self-signed"; "" when the certificate was found by name.
  std::string note;
  struct Acme {  // ACME's side for this host
    bool in_progress = false;
    bool refused = false;    // never tried: a wildcard (HTTP-01 cannot validate wildcard names)
    std::string last_error;  // why the last attempt failed, or why refused; "" after a success
    // When ACME tries next (a retry, or the renewal); unset when nothing is planned.
    std::optional<std::chrono::system_clock::time_point> next_attempt;
  };
  // Unset when ACME is off or the host is not ACME's (a user certificate, the default).
  std::optional<Acme> acme;
};

// Where the certificates come from (agent/daemon implements it over the ingress and
// the ACME manager). Called on the loop; cheap, no I/O.
class CertificateCatalog {
 public:
  virtual ~CertificateCatalog() = default;
  // Every certificate served now, in no particular order.
  virtual std::vector<CertificateView> Certificates() const = 0;
};

// What the node is built from; every reference must outlive the Node.
struct NodeParts {
  Executors executors;
  const NodeConfig& config;
  const Environment& env;  // for ${VAR} in specs
  Logger& log;
  store::DesiredStateStore& store;  // used on the files pool, one call at a time
  reconcile::Reconciler& reconciler;
  reconcile::HealthWatcher& health;    // for inspect's check history
  ImageCatalog& images;                // blocking; used on the images and queries pools
  containerd::Containers& containers;  // container records, for inspect (queries pool)
  containerd::Tasks& tasks;            // exec (lifecycle pool)
  logs::LogHub& log_hub;
  // The lag of the loop the node runs on, for Status; may be null (no measure).
  const LoopLagMonitor* loop_lag = nullptr;
  // The certificates the ingress serves, for certs and routes; may be null (none).
  // Keep it last: NodeParts is built positionally.
  const CertificateCatalog* certificates = nullptr;
};

class Node {
 public:
  explicit Node(NodeParts parts);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  boost::asio::io_context& loop() { return parts_.executors.loop; }
  const NodeConfig& config() const { return parts_.config; }
  logs::LogHub& log_hub() { return parts_.log_hub; }

  // ---- start-up, from agent/daemon ----

  // Reads the store and parses every stored spec (off the loop); `done` gets
  // the error when nothing could be read (problems with single deployments are
  // logged and skipped).
  void Load(std::function<void(Status)> done);
  // containerd answered (again): the first time, the reconciler starts with the
  // accepted deployments and this returns true; later it resyncs.
  bool OnContainerdUp(const std::string& version);
  void OnContainerdDown(const std::string& error);
  // True once the reconciler has been started (events may go to it).
  bool reconciling() const { return reconciling_; }

  // ---- what the API asks ----

  // Validates `yaml` (parsed off the loop, in arrival order), checks it against
  // the node's other deployments (ports), stores it unless dry_run or
  // unchanged, and hands it to the reconciler. Rejections come as
  // DeployResult::problems; kFailedPrecondition for port conflicts; a failed
  // save as its error.
  void Deploy(std::string yaml, std::string source, bool dry_run,
              std::function<void(Result<DeployResult>)> done);
  void WaitConverged(const std::string& name, uint64_t generation,
                     std::function<void(Status)> done);
  // Forgets the deployment and removes its containers; `done` gets the number
  // of replicas stopped, after they are gone when `wait`. kNotFound naming it.
  void Delete(const std::string& name, bool wait, std::function<void(Result<uint32_t>)> done);
  // Sets the replica count of one service (stored like a deploy, as a new
  // generation) and reconciles. kNotFound naming the deployment or service;
  // kInvalidArgument when the count breaks a rule of the spec.
  void Scale(const std::string& deployment, const std::string& service, uint32_t replicas,
             std::function<void(Result<ScaleResult>)> done);
  // Details of every replica `target` names (see ResolveTarget).
  void Inspect(const std::string& target,
               std::function<void(Result<std::vector<ReplicaDetail>>)> done);
  // The reconciler's view, plus accepted deployments it does not know yet.
  std::vector<reconcile::DeploymentView> Deployments() const;
  // `on_change` runs on the loop whenever Deployments() may have changed.
  uint64_t WatchDeployments(std::function<void()> on_change);
  void UnwatchDeployments(uint64_t id);
  // Container ids a target names: "<deployment>-<service>-<n>",
  // "DEPLOYMENT/SERVICE", "SERVICE" (unique across deployments) or
  // "DEPLOYMENT". kNotFound / kInvalidArgument naming the target.
  Result<std::vector<std::string>> ResolveTarget(const std::string& target) const;
  // Starts `zlayer exec` in the replica `target` names (ResolveTarget; when
  // it names several, the running one with the lowest replica index, like
  // `kubectl exec deploy/x`). Callbacks run on the loop (exec_session.h).
  // kNotFound / kInvalidArgument for the target, kFailedPrecondition when no
  // chosen replica is running; later failures arrive as on_exit.
  Result<std::shared_ptr<exec::ExecSession>> StartExec(const std::string& target,
                                                       exec::ExecOptions options,
                                                       exec::ExecCallbacks callbacks);
  // The public listeners and their routes, as the ingress serves them now; https
  // routes with their certificate (RouteView::certificate).
  std::vector<ListenerView> Routes() const;
  // The certificates the ingress serves (CertificateCatalog); empty without a catalog.
  std::vector<CertificateView> Certificates() const;
  NodeStatus CurrentStatus() const;
  // The node's health (node/node_health.h): containerd as the loop knows it, and the
  // supervised-children file, read off the loop.
  void CheckHealth(std::function<void(NodeHealth)> done);

  void ImportImage(std::string path, std::string name,
                   std::function<void(const ImportProgress&)> on_progress,
                   std::function<void(Result<std::vector<ImageInfo>>)> done);
  // Pulls `reference` for `platform` ("os/arch[/variant]"; "" for the node's):
  // `on_resolved` once, then `on_progress` per blob change, then `done`.
  void PullImage(std::string reference, std::string platform,
                 std::function<void(const PullResolvedInfo&)> on_resolved,
                 std::function<void(const ImportProgress&)> on_progress,
                 std::function<void(Result<ImageInfo>)> done);
  void ListImages(std::function<void(Result<std::vector<ImageInfo>>)> done);
  // The number of images ListImages shows; the last count known when containerd is
  // unreachable or the listing fails (0 before the first).
  void CountImages(std::function<void(size_t)> done);
  // kFailedPrecondition naming the users when a deployment uses it (unless `force`).
  void RemoveImage(std::string reference, bool force, std::function<void(Status)> done);

 private:
  // A deployment as accepted: what is (or will be) stored, and its parsed spec
  // (unset when a stored spec no longer parses, e.g. an environment variable it
  // used is gone).
  struct Accepted {
    store::StoredDeployment stored;
    std::optional<spec::Deployment> spec;
  };
  struct Parsed;  // a spec parsed off the loop

  void Accept(std::shared_ptr<Parsed> parsed, std::string yaml, bool dry_run,
              std::function<void(Result<DeployResult>)> done);
  // Gives the heap's free memory back to the system (glibc keeps it otherwise),
  // after a deployment's specs and containers are gone. Off the loop.
  void TrimHeap();

  NodeParts parts_;
  // Parsing (a spec may take a while) and the store's writes each run on an ordered lane
  // of the files pool: results reach the loop in the order the requests were accepted.
  boost::asio::strand<boost::asio::thread_pool::executor_type> parse_lane_;
  boost::asio::strand<boost::asio::thread_pool::executor_type> store_lane_;
  std::map<std::string, Accepted> accepted_;
  std::map<std::string, store::StoredDeployment> saved_;
  bool reconciling_ = false;
  bool containerd_up_ = false;
  std::string containerd_version_;
  std::string containerd_error_ = "not connected yet";
  std::chrono::system_clock::time_point started_at_;
  size_t images_known_ = 0;  // the last image count (Status, while containerd is away)
};

}  // namespace zlayer::agent::node
