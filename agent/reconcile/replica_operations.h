// What the reconciler asks of the outside world, in three narrow interfaces:
//   - ReplicaOperations: blocking container work in containerd (implemented
//     by agent/lifecycle over containerd::Client); run on the lifecycle pool
//     (PrepareImage on the images pool). Every call is short: none waits for a
//     container to exit (the reconciler learns that from containerd's exit
//     event and a grace timer on the loop) and none pulls but PrepareImage.
//   - OutputAttacher: the FIFO drains of a container (implemented by
//     agent/logs); called on the event loop, its file work done off it.
//   - HealthWatcher: health checks of running replicas (agent/health); on
//     the event loop.
//   - ReplicaNetwork: each replica's network namespace and address
//     (agent/network); on the event loop, its slow work done off it.
// Fakes of all four drive the reconciler's unit tests.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/oci/image_config.h"
#include "agent/reconcile/planner.h"
#include "agent/reconcile/states.h"
#include "common/status.h"

namespace zlayer::reconcile {

// An image ready to run: on the node and unpacked into the snapshotter. The
// reconciler only carries it from LocalImage/PrepareImage to Create.
struct PreparedImage {
  std::string name;    // the full reference the container records
  std::string digest;  // of the manifest
  oci::ImageConfig config;
  std::string top_chain_id;  // the snapshot the container's rootfs starts from
};

// Where a replica's container joins the network: ReplicaNetwork::Attach's
// answer, passed to Create. All empty for network_mode host (the node's
// network namespace and resolv.conf).
struct AttachedNetwork {
  std::string netns;       // path of the replica's network namespace
  std::string address;     // its IPv4 address on its deployment's network; "" without one
  std::string nameserver;  // the resolver its /etc/resolv.conf names; "" = the node's resolv.conf
};

// How to stop one container's task: its stop signal, then SIGKILL once
// `grace` has passed without an exit.
struct StopRequest {
  std::string id;
  int signal = 15;
  std::chrono::nanoseconds grace{0};
};

class ReplicaOperations {
 public:
  virtual ~ReplicaOperations() = default;

  // Every container carrying our labels, with its task state.
  virtual Result<std::vector<ObservedContainer>> ObserveAll() = 0;

  // The image of `service` when it serves as the node has it, with neither a
  // registry nor an unpack: its pull policy is never (kNotFound naming the
  // image and the policy when it is missing), or if_not_present and the image
  // is present and unpacked. nullopt when PrepareImage must run first (a pull
  // or an unpack may be needed). Short (lifecycle pool), so that a create of a
  // present image never waits behind pulls.
  virtual Result<std::optional<PreparedImage>> LocalImage(const spec::Service& service) = 0;

  // Makes sure the image of `service` is on the node and unpacked, pulling it
  // as its pull policy says. May take minutes (a pull): run it on the images
  // pool, never on the lifecycle pool. Errors as the image source's (kNotFound
  // naming the image when it is missing and the policy forbids a pull).
  virtual Result<PreparedImage> PrepareImage(const spec::Service& service) = 0;

  // Creates container `id` for replica `replica` of `service` from `image`
  // (as LocalImage or PrepareImage returned it; Create never resolves or
  // pulls) in `network` (as ReplicaNetwork::Attach returned it): its snapshot
  // is prepared, the OCI spec built, the record created with our labels. No task.
  // Returns the container as ObserveAll would see it.
  virtual Result<ObservedContainer> Create(const std::string& id,
                                           const spec::Deployment& deployment,
                                           const spec::Service& service, uint32_t replica,
                                           const std::string& spec_hash, const PreparedImage& image,
                                           const AttachedNetwork& network) = 0;

  // Creates and starts a new task for container `id` (deleting a stopped one
  // first). The container's FIFO readers must already be open (Attach).
  // Returns the task's pid.
  virtual Result<pid_t> Start(const std::string& id) = 0;

  // Sends `signal` to container `id`'s task (to every process in it when
  // `all`) and returns at once: the exit arrives later as containerd's
  // /tasks/exit event. kNotFound when there is no task or it has already
  // exited.
  virtual Status Signal(const std::string& id, int signal, bool all) = 0;

  // Whether container `id` has a task that has not exited (running or
  // paused); false when it has none. For when an exit event may have been
  // missed.
  virtual Result<bool> TaskRunning(const std::string& id) = 0;

  // Deletes container `id`'s task once it has exited (containerd refuses to
  // delete a running one). OK when there is no task.
  virtual Status DeleteTask(const std::string& id) = 0;

  // Deletes the container, its snapshot and its state directory. OK when it
  // does not exist. The task must be gone (DeleteTask).
  virtual Status Remove(const std::string& id) = 0;

  // What an unclean stop (the agent killed before it deleted its tasks, the
  // shims killed after it) leaves on the host, for containers of the
  // namespace that containerd has no task for: their runc state directories
  // (when the process they name is gone) and their empty cgroups. Run once
  // at start, before the first look at containerd. Returns how many entries
  // it removed, or the error that stopped it.
  virtual Result<int> RemoveLeftovers() = 0;
};

// One health check's result, for `zlayer inspect`.
struct HealthCheckRecord {
  std::chrono::system_clock::time_point started_at;
  std::chrono::nanoseconds duration{0};
  bool ok = false;
  int code = 0;        // command: exit code; http: status code; else 0
  std::string output;  // bounded; error text for tcp/http
  bool truncated = false;
};

// Health checks of running replicas (implemented by agent/health). Called on
// the event loop; `on_change` runs on the loop whenever the verdict of the
// replica's current run changes (starting → healthy, healthy → unhealthy, ...).
class HealthWatcher {
 public:
  using Verdict = ReplicaHealth;  // states.h
  using OnChange = std::function<void(Verdict verdict, const std::string& output)>;
  virtual ~HealthWatcher() = default;
  // Starts checking a new run of `id` (verdict kStarting), replacing an earlier watch.
  // tcp checks connect to `address` (the replica's own; "" = the node's loopback),
  // and so do http checks whose URL names localhost or 127.0.0.1.
  virtual void Watch(const std::string& id, const std::string& address, const spec::Health& health,
                     OnChange on_change) = 0;
  // Stops checking `id`; a check in flight is ignored when it ends.
  virtual void Unwatch(const std::string& id) = 0;
  // The last results of `id`'s checks, oldest first.
  virtual std::vector<HealthCheckRecord> History(const std::string& id) const = 0;
};

class OutputAttacher {
 public:
  virtual ~OutputAttacher() = default;
  // Opens (or keeps open) the drains of container `id`'s stdout/stderr FIFOs,
  // creating the FIFOs and the log file off the loop; `done` runs on the loop
  // once the drains read (or with the error that stopped them).
  virtual void Attach(const std::string& id, std::function<void(Status)> done) = 0;
  // Closes the drains now and, with `remove_logs`, deletes the FIFOs and the
  // container's logs off the loop.
  virtual void Detach(const std::string& id, bool remove_logs) = 0;
};

// Each replica's own network (network_mode default and none), implemented by
// agent/network. Called on the event loop; callbacks run on it, exactly once.
// A replica is attached before its container is created and detached after
// the container is removed; its address stays the same across restarts of
// its task and of the agent.
class ReplicaNetwork {
 public:
  virtual ~ReplicaNetwork() = default;
  // Gives container `id` (replica of `service` in `deployment`) its network:
  // for network_mode default a namespace on the deployment's bridge with an
  // address; for none a namespace with loopback only; for host nothing (an
  // empty AttachedNetwork, at once). An id already attached gets what it has.
  // Errors name the step ("cni bridge ADD for web-0: ...").
  virtual void Attach(const std::string& id, const std::string& deployment,
                      const spec::Service& service,
                      std::function<void(Result<AttachedNetwork>)> done) = 0;
  // Takes container `id` off its network and removes its namespace. OK when
  // it has none.
  virtual void Detach(const std::string& id, std::function<void(Status)> done) = 0;
  // Container `id`'s address ("" when it has none); known at once for
  // attachments made before the agent restarted.
  virtual std::string AddressOf(const std::string& id) const = 0;
  // The deployment is gone: its bridge and subnet are given back once its
  // last replica is detached.
  virtual void ReleaseDeployment(const std::string& deployment) = 0;
  // Clean-up at start, once the containers are known: everything network
  // (namespaces, addresses, bridges, subnets) of a container not in
  // `containers` or a deployment not in `deployments` is removed, off the loop.
  virtual void Prune(std::set<std::string> containers, std::set<std::string> deployments) = 0;
  // Container `id` is about to get its stop signal: it is taken out of
  // everything that sends it new traffic (the ingress), and `done` runs once
  // the requests it is serving have finished, or at `deadline` (its grace
  // period's end), whichever comes first. At once when nothing routes to it.
  virtual void Drain(const std::string& id, std::chrono::steady_clock::time_point deadline,
                     std::function<void()> done) = 0;
};

}  // namespace zlayer::reconcile
