// The reconciler's ReplicaOperations over containerd: how one replica's
// image is prepared and its container and task are created, started,
// signalled and removed.
//
// Every method blocks (containerd calls, mounts, file writes) and is meant
// for the agent's pools (common/executors.h): PrepareImage, which may pull, on
// the images pool; the others, each short, on the lifecycle pool. None waits
// for a task to exit. Instances are safe to use from several pool threads at
// once for different containers.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/containerd/client.h"
#include "agent/oci/image_config.h"
#include "agent/reconcile/replica_operations.h"
#include "agent/runtime/node_limits.h"
#include "agent/spec/model.h"
#include "common/config.h"
#include "common/log.h"

namespace zlayer::lifecycle {

using reconcile::PreparedImage;

// Where images come from: the image store, and registry pulls as `pull_policy` says.
class ImageSource {
 public:
  virtual ~ImageSource() = default;
  // The image `reference` (as written in a spec), unpacked, after pulling it when
  // `pull_policy` asks: kNever uses only the node's image (kNotFound naming the image
  // and the policy when it is missing); kIfNotPresent pulls when it is missing; kAlways
  // resolves at the registry every time (present blobs are not fetched again); kNewer
  // pulls when the registry's digest differs from the node's, and keeps the node's
  // image (with a warning) when the registry cannot be reached. Pull errors as
  // images::Puller::Pull.
  virtual Result<PreparedImage> Prepare(const std::string& reference,
                                        spec::PullPolicy pull_policy) = 0;
  // The image `reference` when it is on the node and unpacked (Prepare with kNever or
  // kIfNotPresent would neither pull nor unpack); nullopt when it is missing or not
  // unpacked. Errors other than a missing image as images::ImageStore::Resolve.
  virtual Result<std::optional<PreparedImage>> Local(const std::string& reference) = 0;
};

// What the node is, read once at start.
struct NodeFacts {
  runtime::CapabilitySet capabilities;  // the agent's bounding set
  runtime::RlimitMap hard_limits;       // the agent's hard rlimits
  std::string resolv_conf;              // the node's /etc/resolv.conf
};
Result<NodeFacts> ReadNodeFacts();

// Where runc keeps what it knows of containers on the host.
struct RuncPaths {
  // containerd-shim-runc-v2's runc root (its default); state of container
  // <id> of namespace <ns> is <root>/<ns>/<id>.
  std::string runc_root = "/run/containerd/runc";
  // cgroup v2 (<root>/<ns>/<id>) or v1 (<root>/<controller>/<ns>/<id>), as
  // runtime::BuildRuntimeSpec's cgroupsPath "/<ns>/<id>" puts them.
  std::string cgroup_root = "/sys/fs/cgroup";
};

class ReplicaRuntime : public reconcile::ReplicaOperations {
 public:
  // `client`, `images` and `log` must outlive this.
  ReplicaRuntime(containerd::Client& client, ImageSource& images, NodeConfig config,
                 NodeFacts facts, Logger& log, RuncPaths paths = {});

  Result<std::vector<reconcile::ObservedContainer>> ObserveAll() override;
  Result<std::optional<PreparedImage>> LocalImage(const spec::Service& service) override;
  Result<PreparedImage> PrepareImage(const spec::Service& service) override;
  Result<reconcile::ObservedContainer> Create(const std::string& id,
                                              const spec::Deployment& deployment,
                                              const spec::Service& service, uint32_t replica,
                                              const std::string& spec_hash,
                                              const PreparedImage& image,
                                              const reconcile::AttachedNetwork& network) override;
  Result<pid_t> Start(const std::string& id) override;
  Status Signal(const std::string& id, int signal, bool all) override;
  Result<bool> TaskRunning(const std::string& id) override;
  Status DeleteTask(const std::string& id) override;
  Status Remove(const std::string& id) override;
  Result<int> RemoveLeftovers() override;

  // <state_dir>/<id>: FIFOs (agent/logs), generated /etc files, anonymous volumes.
  std::string ContainerDir(const std::string& id) const;

 private:
  // The rootfs mounts of container `id`'s snapshot. They never change while
  // the container exists, so Create remembers them and a restart (Start of a
  // container that ran before) does not ask containerd again.
  Result<std::vector<containerd::Mount>> RootfsMounts(const std::string& id);
  void ForgetMounts(const std::string& id);

  containerd::Client& client_;
  ImageSource& images_;
  NodeConfig config_;
  NodeFacts facts_;
  Logger& log_;
  RuncPaths paths_;
  std::mutex mounts_mu_;                                          // guards mounts_
  std::map<std::string, std::vector<containerd::Mount>> mounts_;  // by container id
};

// Reads `paths` (absolute, inside the image) from a snapshot by mounting
// `mounts` on a temporary directory; a file the image lacks reads as "".
// Needs the privilege to mount (the agent runs as root).
Result<std::vector<std::string>> ReadFilesFromMounts(const std::vector<containerd::Mount>& mounts,
                                                     const std::vector<std::string>& paths);

}  // namespace zlayer::lifecycle
