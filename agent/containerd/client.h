// The agent's view of containerd: one typed call per containerd RPC it uses.
//
// Contract for every method:
//   - It blocks until containerd answers or the call's deadline passes, so it
//     must never run on the agent's event-loop thread: the agent calls it
//     from its worker pool and posts the result back (architecture.md).
//   - All objects live in the client's namespace (ZLAYER_NAMESPACE); the
//     namespace header is sent on every call.
//   - Errors come back as Status with containerd's meaning kept in the code
//     (kNotFound, kAlreadyExists, kFailedPrecondition, kUnavailable when
//     containerd is unreachable, kDeadlineExceeded) and a message naming the
//     operation and the object: "tasks.start web-0: ...".
//   - `lease`, where a method takes one, is a lease id from CreateLease; the
//     call then runs under that lease (containerd-lease header), so what it
//     creates survives garbage collection until the lease is deleted.
//
// Thread safety: implementations are safe to call from several threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/containerd/types.h"
#include "common/status.h"

namespace zlayer::containerd {

// Where WriteBlob reads a blob's bytes from. Read returns 0 at the end;
// Seek is called once, before the first Read, when containerd already holds
// part of the blob (resuming an interrupted write).
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  virtual Result<size_t> Read(char* buffer, size_t size) = 0;
  virtual Status Seek(int64_t offset) = 0;
};

// Stops an event subscription when destroyed (or when Cancel is called).
class EventSubscription {
 public:
  virtual ~EventSubscription() = default;
  virtual void Cancel() = 0;
};

// containerd's Leases service: what keeps new content and snapshots from
// garbage collection while an image is written.
class Leases {
 public:
  virtual ~Leases() = default;
  // Creates a lease that expires after `expire` (containerd.io/gc.expire).
  virtual Result<std::string> CreateLease(std::chrono::seconds expire) = 0;
  // Deletes a lease; `sync` waits for the garbage collection it triggers.
  virtual Status DeleteLease(const std::string& id, bool sync) = 0;
};

// containerd's Content service: blobs by digest.
class Content {
 public:
  virtual ~Content() = default;
  virtual Result<ContentInfo> GetContent(const std::string& digest) = 0;
  // Reads a whole blob; kOutOfRange if it is larger than `max_size`.
  virtual Result<std::string> ReadContent(const std::string& digest, int64_t max_size) = 0;
  // Writes a blob (Content.Write stream) under `ref`, resuming what an
  // earlier write of the same ref left; verifies size and digest at commit
  // (kFailedPrecondition on a mismatch) and applies `labels`. A blob that
  // already exists is success (its labels are then updated).
  virtual Status WriteContent(const std::string& ref, const Descriptor& expected,
                              BlobSource& source, const Labels& labels,
                              const std::string& lease) = 0;
  // Sets (or, with an empty value, removes) each label in `labels`, leaving
  // the blob's other labels as they are.
  virtual Status UpdateContentLabels(const std::string& digest, const Labels& labels) = 0;
  virtual Status DeleteContent(const std::string& digest) = 0;
};

// containerd's Images service: named image records.
class Images {
 public:
  virtual ~Images() = default;
  virtual Result<ImageRecord> GetImage(const std::string& name) = 0;
  virtual Result<std::vector<ImageRecord>> ListImages() = 0;
  // Creates the image record, or replaces target and labels of an existing one.
  virtual Status PutImage(const ImageRecord& image) = 0;
  virtual Status DeleteImage(const std::string& name, bool sync) = 0;
};

// containerd's Snapshots service, for one snapshotter at a time.
class Snapshots {
 public:
  virtual ~Snapshots() = default;
  virtual Result<SnapshotInfo> StatSnapshot(const std::string& snapshotter,
                                            const std::string& key) = 0;
  virtual Result<std::vector<Mount>> PrepareSnapshot(const std::string& snapshotter,
                                                     const std::string& key,
                                                     const std::string& parent,
                                                     const Labels& labels,
                                                     const std::string& lease) = 0;
  virtual Status CommitSnapshot(const std::string& snapshotter, const std::string& name,
                                const std::string& key, const Labels& labels,
                                const std::string& lease) = 0;
  virtual Result<std::vector<Mount>> SnapshotMounts(const std::string& snapshotter,
                                                    const std::string& key) = 0;
  virtual Status RemoveSnapshot(const std::string& snapshotter, const std::string& key) = 0;
};

// containerd's Diff service: layers applied onto snapshots.
class Diff {
 public:
  virtual ~Diff() = default;
  // Applies the (compressed) layer blob `layer` onto `mounts`; returns the
  // descriptor of the uncompressed tar that was applied.
  virtual Result<Descriptor> ApplyDiff(const Descriptor& layer, const std::vector<Mount>& mounts,
                                       const std::string& lease) = 0;
};

// containerd's Containers service: container records (no processes).
class Containers {
 public:
  virtual ~Containers() = default;
  virtual Status CreateContainer(const ContainerRecord& container, const std::string& lease) = 0;
  virtual Result<ContainerRecord> GetContainer(const std::string& id) = 0;
  // Containers whose labels match containerd's filter syntax, e.g.
  // `labels."zlayer.deployment"` (presence) or `labels."zlayer.deployment"==web`.
  virtual Result<std::vector<ContainerRecord>> ListContainers(const std::string& filter) = 0;
  virtual Status DeleteContainer(const std::string& id) = 0;
};

// containerd's Tasks service: a container's process (the task) and the
// extra processes exec'd in it.
class Tasks {
 public:
  virtual ~Tasks() = default;
  // Creates the container's task; blocks until the shim has opened the
  // stdout/stderr FIFOs (their readers must be open first). Returns the pid.
  virtual Result<pid_t> CreateTask(const CreateTaskRequest& request) = 0;
  virtual Result<pid_t> StartTask(const std::string& container_id, const std::string& exec_id) = 0;
  virtual Result<TaskInfo> GetTask(const std::string& container_id) = 0;
  virtual Result<std::vector<TaskInfo>> ListTasks() = 0;
  // kNotFound when the process has already exited.
  virtual Status KillTask(const std::string& container_id, const std::string& exec_id, int signal,
                          bool all) = 0;
  virtual Result<ExitInfo> DeleteTask(const std::string& container_id) = 0;
  virtual Status Exec(const ExecRequest& request) = 0;
  virtual Result<ExitInfo> DeleteProcess(const std::string& container_id,
                                         const std::string& exec_id) = 0;
  // Tasks.Wait: blocks until the process (`exec_id` empty: the task's init)
  // has exited and returns its exit; at once when it already has. Reliable
  // when called after Start, as long as the process is not deleted yet, so
  // exec users call Exec, Start, WaitProcess, DeleteProcess in that order.
  // kDeadlineExceeded when it is still running after `timeout` (the process
  // is left alone); kNotFound for an unknown process.
  virtual Result<ExitInfo> WaitProcess(const std::string& container_id, const std::string& exec_id,
                                       std::chrono::milliseconds timeout) = 0;
  virtual Status CloseStdin(const std::string& container_id, const std::string& exec_id) = 0;
  virtual Status ResizePty(const std::string& container_id, const std::string& exec_id,
                           uint32_t width, uint32_t height) = 0;
};

// containerd's Events service.
class Events {
 public:
  virtual ~Events() = default;
  // Streams events of this namespace matching any of `filters` (containerd's
  // filter syntax; topics such as `topic=="/tasks/exit"`) to `on_event`, from
  // a thread of the client's own, until the subscription is cancelled or the
  // stream breaks; then `on_end` is called once with the reason (OK after
  // Cancel). Both callbacks run on that thread: post to your executor.
  virtual std::unique_ptr<EventSubscription> SubscribeEvents(
      const std::vector<std::string>& filters, std::function<void(const Event&)> on_event,
      std::function<void(const Status&)> on_end) = 0;
};

// Everything the agent uses of containerd, in its namespace. Each module takes
// only the services it calls (the interfaces above); the daemon owns one Client.
class Client : public Leases,
               public Content,
               public Images,
               public Snapshots,
               public Diff,
               public Containers,
               public Tasks,
               public Events {
 public:
  ~Client() override = default;

  virtual const std::string& namespace_name() const = 0;

  virtual Result<VersionInfo> Version() = 0;

  // Creates the client's namespace if missing and sets `labels` on it (an
  // existing namespace keeps its other labels).
  virtual Status EnsureNamespace(const Labels& labels) = 0;
};

struct ClientOptions {
  std::string socket_path;     // CONTAINERD_SOCKET
  std::string namespace_name;  // ZLAYER_NAMESPACE
  // Deadline of every unary call; Tasks.Create waits for the shim (up to 30s
  // for FIFO opens) and so gets at least 45s.
  std::chrono::milliseconds call_timeout{std::chrono::seconds(30)};
};

// The real client over containerd's gRPC API on a Unix socket. It connects
// lazily and reconnects on its own; calls made while containerd is away
// fail with kUnavailable.
std::unique_ptr<Client> NewGrpcClient(const ClientOptions& options);

}  // namespace zlayer::containerd
