// FakeClient: containerd in memory, for unit tests. Not for production use.
//
// It implements every Client method over maps, with the behaviour the agent
// depends on taken from containerd 1.6 (containerd-client-notes.md):
//   - content: WriteContent verifies size and sha256 digest at commit
//     (kFailedPrecondition on a mismatch, and the ingest is then dropped so a
//     retry starts over), resumes a ref's partial ingest (the source is
//     Seek'ed to the ingested offset), treats an existing blob as success
//     without reading the source and then sets the given labels; labels are
//     validated (key+value <= 4096 bytes).
//   - images: PutImage validates like containerd's image service (name,
//     digest, size > 0, media type) and creates or replaces.
//   - snapshots, per snapshotter: Prepare (kAlreadyExists for a taken key, or
//     when the `containerd.io/snapshot.ref` label names a committed snapshot
//     that exists; kNotFound for a missing parent), Commit (active key only),
//     Stat, Mounts (bind for a base, overlay otherwise; fake paths), Remove
//     (kFailedPrecondition while a snapshot has children).
//   - ApplyDiff decompresses the layer blob (gzip, zstd, ... via libarchive;
//     uncompressed detected), checks it is a tar and returns the sha256 of the
//     uncompressed bytes as the applied digest. The snapshot records the
//     applied digests (AppliedDiffs), and a commit inherits them.
//   - leases: a call naming an unknown lease fails with kNotFound; content and
//     snapshots created under a lease are attached to it. Garbage collection
//     runs only when asked: CollectGarbage(), or DeleteLease/DeleteImage with
//     sync=true. It follows §12's roots and edges (leases, image targets,
//     container snapshots, gc.root, gc.ref.content*, gc.ref.snapshot.<S>,
//     snapshot parents).
//   - containers (ListContainers understands `labels."k"` and
//     `labels."k"==v`, comma for AND), tasks and exec processes with pids
//     from 1000 up. KillTask asks a kill handler what happens (by default
//     the process exits with 128+signal); ExitProcess makes one exit. A
//     running task cannot be deleted (kUnknown, as containerd).
//   - events: topics /tasks/create, /tasks/start, /tasks/exit, /tasks/delete,
//     /tasks/exec-added, /tasks/exec-started, /containers/create,
//     /containers/delete, /images/create, /images/update, /images/delete.
//     Unlike the real client, callbacks run synchronously on the thread whose
//     call caused the event, after the fake's lock is released; filters
//     support `field`, `field==v`, `field!=v`, `field~=regex` on topic,
//     namespace and event.<field>.
//
// Test hooks: FailNext(method, status) makes the next call of `method` fail
// with `status` before it has any effect (queue several for several calls);
// CallCount(method) counts calls, including failed ones.
//
// Thread safety: every method may be called from any thread; one mutex guards
// all state (mu_). Event callbacks, kill handlers and BlobSources are called
// without holding it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/containerd/client.h"

namespace zlayer::containerd {

class FakeClient : public Client {
 public:
  enum class Method {
    kVersion,
    kEnsureNamespace,
    kCreateLease,
    kDeleteLease,
    kGetContent,
    kReadContent,
    kWriteContent,
    kUpdateContentLabels,
    kDeleteContent,
    kGetImage,
    kListImages,
    kPutImage,
    kDeleteImage,
    kStatSnapshot,
    kPrepareSnapshot,
    kCommitSnapshot,
    kSnapshotMounts,
    kRemoveSnapshot,
    kApplyDiff,
    kCreateContainer,
    kGetContainer,
    kListContainers,
    kDeleteContainer,
    kCreateTask,
    kStartTask,
    kGetTask,
    kListTasks,
    kKillTask,
    kDeleteTask,
    kExec,
    kDeleteProcess,
    kWaitProcess,
    kCloseStdin,
    kResizePty,
    kSubscribeEvents,
  };
  // "WriteContent" for kWriteContent and so on.
  static const char* MethodName(Method method);

  // Decides what a KillTask does to a live process: return the exit status
  // it exits with, or nullopt to leave it running (a signal it ignores).
  using KillHandler = std::function<std::optional<uint32_t>(
      const std::string& container_id, const std::string& exec_id, int signal)>;

  explicit FakeClient(std::string namespace_name = "zlayer-test");
  ~FakeClient() override;
  FakeClient(const FakeClient&) = delete;
  FakeClient& operator=(const FakeClient&) = delete;

  // --- Client ------------------------------------------------------------------
  const std::string& namespace_name() const override { return namespace_name_; }
  Result<VersionInfo> Version() override;
  Status EnsureNamespace(const Labels& labels) override;
  Result<std::string> CreateLease(std::chrono::seconds expire) override;
  Status DeleteLease(const std::string& id, bool sync) override;
  Result<ContentInfo> GetContent(const std::string& digest) override;
  Result<std::string> ReadContent(const std::string& digest, int64_t max_size) override;
  Status WriteContent(const std::string& ref, const Descriptor& expected, BlobSource& source,
                      const Labels& labels, const std::string& lease) override;
  Status UpdateContentLabels(const std::string& digest, const Labels& labels) override;
  Status DeleteContent(const std::string& digest) override;
  Result<ImageRecord> GetImage(const std::string& name) override;
  Result<std::vector<ImageRecord>> ListImages() override;
  Status PutImage(const ImageRecord& image) override;
  Status DeleteImage(const std::string& name, bool sync) override;
  Result<SnapshotInfo> StatSnapshot(const std::string& snapshotter,
                                    const std::string& key) override;
  Result<std::vector<Mount>> PrepareSnapshot(const std::string& snapshotter, const std::string& key,
                                             const std::string& parent, const Labels& labels,
                                             const std::string& lease) override;
  Status CommitSnapshot(const std::string& snapshotter, const std::string& name,
                        const std::string& key, const Labels& labels,
                        const std::string& lease) override;
  Result<std::vector<Mount>> SnapshotMounts(const std::string& snapshotter,
                                            const std::string& key) override;
  Status RemoveSnapshot(const std::string& snapshotter, const std::string& key) override;
  Result<Descriptor> ApplyDiff(const Descriptor& layer, const std::vector<Mount>& mounts,
                               const std::string& lease) override;
  Status CreateContainer(const ContainerRecord& container, const std::string& lease) override;
  Result<ContainerRecord> GetContainer(const std::string& id) override;
  Result<std::vector<ContainerRecord>> ListContainers(const std::string& filter) override;
  Status DeleteContainer(const std::string& id) override;
  Result<pid_t> CreateTask(const CreateTaskRequest& request) override;
  Result<pid_t> StartTask(const std::string& container_id, const std::string& exec_id) override;
  Result<TaskInfo> GetTask(const std::string& container_id) override;
  Result<std::vector<TaskInfo>> ListTasks() override;
  Status KillTask(const std::string& container_id, const std::string& exec_id, int signal,
                  bool all) override;
  Result<ExitInfo> DeleteTask(const std::string& container_id) override;
  Status Exec(const ExecRequest& request) override;
  Result<ExitInfo> DeleteProcess(const std::string& container_id,
                                 const std::string& exec_id) override;
  // Waits (for real, on a condition variable) until ExitProcess or a kill
  // ends the process, or `timeout` passes (kDeadlineExceeded).
  Result<ExitInfo> WaitProcess(const std::string& container_id, const std::string& exec_id,
                               std::chrono::milliseconds timeout) override;
  Status CloseStdin(const std::string& container_id, const std::string& exec_id) override;
  Status ResizePty(const std::string& container_id, const std::string& exec_id, uint32_t width,
                   uint32_t height) override;
  std::unique_ptr<EventSubscription> SubscribeEvents(
      const std::vector<std::string>& filters, std::function<void(const Event&)> on_event,
      std::function<void(const Status&)> on_end) override;

  // --- test hooks: failures and counts ---------------------------------------------
  void FailNext(Method method, Status status);
  int CallCount(Method method) const;
  void ResetCallCounts();

  // --- test hooks: inspecting and seeding state ----------------------------------------
  void SetVersion(VersionInfo version);
  Labels NamespaceLabels() const;
  std::vector<std::string> LeaseIds() const;
  // Digests in the content store, sorted.
  std::vector<std::string> ContentDigests() const;
  // Adds a blob directly (no lease, no verification); returns its digest.
  std::string AddContent(const std::string& data, const Labels& labels = {});
  // Replaces a stored blob's bytes without changing its digest (corruption).
  void CorruptContent(const std::string& digest, const std::string& data);
  // Bytes ingested so far per open ref.
  std::map<std::string, std::string> Ingests() const;
  // Seeds a partial write of `expected_digest` under `ref`.
  void SetIngest(const std::string& ref, const std::string& expected_digest,
                 const std::string& data);
  // The next WriteContent stops after `after_bytes` bytes in the ingest, keeps
  // them as a partial ingest and fails with kUnavailable (a broken stream).
  void InterruptNextWrite(int64_t after_bytes);
  // Keys (active) and names (committed) of a snapshotter's snapshots, sorted.
  std::vector<std::string> SnapshotKeys(const std::string& snapshotter) const;
  // The uncompressed digests applied by ApplyDiff on this snapshot (or
  // inherited from the active snapshot it was committed from), in order.
  std::vector<std::string> AppliedDiffs(const std::string& snapshotter,
                                        const std::string& key) const;
  // Removes everything unreachable from a GC root (notes §12).
  void CollectGarbage();
  void SetKillHandler(KillHandler handler);
  // Makes a live process exit now with `exit_status` and publishes /tasks/exit.
  Status ExitProcess(const std::string& container_id, const std::string& exec_id,
                     uint32_t exit_status);
  // Ends every subscription with `reason` (as if the stream broke).
  void BreakEventStreams(const Status& reason);
  // Publishes an arbitrary event to matching subscribers.
  void PublishEvent(const Event& event);

 private:
  struct Blob {
    std::string data;
    Labels labels;
  };
  struct Ingest {
    std::string expected;
    std::string data;
    bool locked = false;
  };
  struct Snapshot {
    SnapshotInfo info;
    int id = 0;  // names the fake mount directories
    std::vector<std::string> applied;
  };
  struct Lease {
    std::chrono::system_clock::time_point expires;
    std::set<std::string> content;
    std::set<std::pair<std::string, std::string>> snapshots;  // snapshotter, key
  };
  struct Process {
    TaskInfo info;
    std::string process_json;
    bool stdin_closed = false;
    uint32_t pty_width = 0, pty_height = 0;
  };
  struct Task {
    Process init;
    std::map<std::string, Process> execs;
  };
  struct Subscription;
  class SubscriptionHandle;

  // Counts the call and pops an injected failure. Needs mu_.
  Status Enter(Method method);
  Status CheckLease(const std::string& lease) const;
  Status ValidateLabels(const Labels& labels) const;
  std::vector<Mount> MountsFor(const std::string& snapshotter, const Snapshot& snapshot) const;
  Process* FindProcess(const std::string& container_id, const std::string& exec_id);
  void CollectGarbageLocked();
  Event TaskEvent(const std::string& topic, const std::string& container_id) const;
  // Delivers events queued in pending_ (call without holding mu_).
  void Deliver(std::vector<Event> events);
  // Applies a kill or exit to a live process; queues /tasks/exit. Needs mu_.
  void ExitLocked(const std::string& container_id, Process& process, uint32_t exit_status,
                  std::vector<Event>& events);

  const std::string namespace_name_;

  mutable std::mutex mu_;           // guards everything below
  std::condition_variable exited_;  // notified (under mu_) when a process exits
  VersionInfo version_{"v1.6.20-fake", "fake"};
  Labels namespace_labels_;
  std::map<Method, int> calls_;
  std::map<Method, std::deque<Status>> failures_;
  std::map<std::string, Blob> content_;
  std::map<std::string, Ingest> ingests_;
  std::optional<int64_t> interrupt_write_after_;
  std::map<std::string, ImageRecord> images_;
  std::map<std::string, std::map<std::string, Snapshot>> snapshots_;
  int next_snapshot_id_ = 1;
  std::map<std::string, Lease> leases_;
  int next_lease_ = 1;
  std::map<std::string, ContainerRecord> containers_;
  std::map<std::string, Task> tasks_;
  pid_t next_pid_ = 1000;
  KillHandler kill_handler_;
  std::vector<std::shared_ptr<Subscription>> subscriptions_;
};

}  // namespace zlayer::containerd
