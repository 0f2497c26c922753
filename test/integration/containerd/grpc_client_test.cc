// The gRPC client against a real containerd 1.6 (a private daemon per test,
// see private_containerd.h). Needs root, /usr/bin/containerd and runc.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "agent/containerd/client.h"
#include "test/integration/containerd/private_containerd.h"
#include "test/integration/containerd/test_blobs.h"

namespace zlayer::containerd::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kLayerMediaType = "application/vnd.oci.image.layer.v1.tar";
constexpr const char* kManifestMediaType = "application/vnd.oci.image.manifest.v1+json";

// Starts a private containerd, or fails the test with the daemon's log.
#define REQUIRE_STARTED(containerd)          \
  do {                                       \
    INFO((containerd).started().ToString()); \
    REQUIRE((containerd).started().ok());    \
  } while (0)

// Content of `size` bytes that differs per `seed`.
std::string TestData(size_t size, char seed) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(seed + i * 131 % 251);
  return data;
}

Descriptor BlobDescriptor(const std::string& data,
                          const std::string& media_type = "application/octet-stream") {
  return Descriptor{media_type, Sha256Digest(data), static_cast<int64_t>(data.size()), {}};
}

Status WriteBlob(Client& client, const std::string& data, const Labels& labels = {},
                 const std::string& lease = "") {
  MemoryBlobSource source(data);
  const Descriptor descriptor = BlobDescriptor(data);
  return client.WriteContent("test-" + descriptor.digest, descriptor, source, labels, lease);
}

// Events delivered by a subscription, for a test thread to wait on.
class EventLog {
 public:
  void Add(const Event& event) {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(event);
    changed_.notify_all();
  }
  void End(const Status& status) {
    std::lock_guard<std::mutex> lock(mutex_);
    end_statuses_.push_back(status);
    changed_.notify_all();
  }
  // The first event with `topic`, waiting up to `timeout`.
  std::optional<Event> WaitFor(const std::string& topic, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    std::optional<Event> found;
    changed_.wait_for(lock, timeout, [&] {
      for (const auto& event : events_) {
        if (event.topic == topic) found = event;
      }
      return found.has_value();
    });
    return found;
  }
  // The status the stream ended with, waiting up to `timeout`.
  std::optional<Status> WaitForEnd(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return !end_statuses_.empty(); })) {
      return std::nullopt;
    }
    return end_statuses_.front();
  }
  std::vector<Event> events() {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }
  std::vector<Status> end_statuses() {
    std::lock_guard<std::mutex> lock(mutex_);
    return end_statuses_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Event> events_;
  std::vector<Status> end_statuses_;
};

std::unique_ptr<EventSubscription> Subscribe(Client& client, EventLog& log,
                                             const std::vector<std::string>& filters) {
  return client.SubscribeEvents(
      filters, [&log](const Event& event) { log.Add(event); },
      [&log](const Status& status) { log.End(status); });
}

// Reads from non-blocking `fd` until `wanted` has appeared or `timeout` passed.
std::string ReadUntil(int fd, const std::string& wanted, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string data;
  while (data.find(wanted) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) break;
    pollfd poll_fd{fd, POLLIN, 0};
    if (poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[4096];
    const ssize_t count = read(fd, buffer, sizeof(buffer));
    if (count > 0) data.append(buffer, static_cast<size_t>(count));
  }
  return data;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// A minimal OCI runtime spec: /bin/sh -c `script` in new pid/ipc/uts/mount
// namespaces with /proc and /dev, CAP_KILL only.
std::string MinimalSpec(const std::string& namespace_name, const std::string& container_id,
                        const std::string& script) {
  return fmt::format(R"({{
  "ociVersion": "1.0.2-dev",
  "process": {{
    "terminal": false,
    "user": {{"uid": 0, "gid": 0}},
    "args": ["/bin/sh", "-c", "{script}"],
    "env": ["PATH=/bin"],
    "cwd": "/",
    "capabilities": {{
      "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]
    }},
    "rlimits": [{{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}}],
    "noNewPrivileges": true
  }},
  "root": {{"path": "rootfs"}},
  "hostname": "zltest",
  "mounts": [
    {{"destination": "/proc", "type": "proc", "source": "proc",
      "options": ["nosuid", "noexec", "nodev"]}},
    {{"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}}
  ],
  "linux": {{
    "namespaces": [{{"type": "pid"}}, {{"type": "ipc"}}, {{"type": "uts"}}, {{"type": "mount"}}],
    "cgroupsPath": "/{namespace}/{id}",
    "resources": {{"devices": [{{"allow": false, "access": "rwm"}}]}},
    "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }}
}})",
                     fmt::arg("script", script), fmt::arg("namespace", namespace_name),
                     fmt::arg("id", container_id));
}

// A FIFO held open O_RDWR|O_NONBLOCK: the open never blocks, a reader exists
// before the shim opens the FIFO for writing, and writes never see EPIPE.
class OpenFifo {
 public:
  explicit OpenFifo(std::string path) : path_(std::move(path)) {
    if (mkfifo(path_.c_str(), 0700) == 0)
      fd_ = open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  }
  ~OpenFifo() { Close(); }
  OpenFifo(const OpenFifo&) = delete;
  OpenFifo& operator=(const OpenFifo&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Writes a single-layer rootfs (busybox and /bin/sh) and unpacks it into a
// committed snapshot named after the layer's digest, which it returns.
Result<std::string> UnpackBusyboxLayer(Client& client, const std::string& snapshotter,
                                       const std::string& lease) {
  TarWriter tar;
  tar.AddDirectory("bin");
  tar.AddFile("bin/busybox", ReadFile("/bin/busybox"), 0755);
  tar.AddSymlink("bin/sh", "busybox");
  const std::string layer_tar = tar.Finish();
  const Descriptor layer = BlobDescriptor(layer_tar, kLayerMediaType);

  MemoryBlobSource source(layer_tar);
  ZLAYER_RETURN_IF_ERROR(client.WriteContent("layer-" + layer.digest, layer, source, {}, lease));
  const std::string extract_key = "extract " + layer.digest;
  auto mounts = client.PrepareSnapshot(snapshotter, extract_key, "", {}, lease);
  if (!mounts.ok()) return mounts.status();
  auto applied = client.ApplyDiff(layer, *mounts, lease);
  if (!applied.ok()) return applied.status();
  if (applied->digest != layer.digest) {  // uncompressed: the diff id is the blob's digest
    return InternalError("applied " + applied->digest + ", expected " + layer.digest);
  }
  ZLAYER_RETURN_IF_ERROR(client.CommitSnapshot(snapshotter, layer.digest, extract_key, {}, lease));
  return layer.digest;
}

// A container `id` on a fresh snapshot of `parent`, running `script`.
Status CreateBusyboxContainer(Client& client, const PrivateContainerd& containerd,
                              const std::string& id, const std::string& parent,
                              const std::string& script, const std::string& lease) {
  auto mounts = client.PrepareSnapshot(containerd.snapshotter(), id, parent, {}, lease);
  if (!mounts.ok()) return mounts.status();
  ContainerRecord record;
  record.id = id;
  record.labels = {{"zlayer.test", "run"}};
  record.spec_json = MinimalSpec(containerd.namespace_name(), id, script);
  record.snapshotter = containerd.snapshotter();
  record.snapshot_key = id;
  return client.CreateContainer(record, lease);
}

TEST_CASE("containerd client: given a private containerd, Version answers with a 1.6 release",
          "[containerd]") {
  PrivateContainerd containerd;
  REQUIRE_STARTED(containerd);
  auto client = containerd.NewClient();

  auto version = client->Version();
  REQUIRE(version.ok());
  CHECK(version->version.rfind("1.6", 0) == 0);
  CHECK(client->namespace_name() == containerd.namespace_name());
}

TEST_CASE(
    "containerd client: ensuring the namespace twice succeeds and the second call updates labels",
    "[containerd]") {
  PrivateContainerd containerd;
  REQUIRE_STARTED(containerd);
  auto client = containerd.NewClient();

  CHECK(client->EnsureNamespace({{"zlayer.owner", "test"}}).ok());
  CHECK(client->EnsureNamespace({{"zlayer.owner", "test"}, {"zlayer.second", "yes"}}).ok());
  CHECK(client->EnsureNamespace({}).ok());
}

TEST_CASE(
    "containerd client: a blob written is read back whole and its labels can be set and removed",
    "[containerd]") {
  PrivateContainerd containerd;
  REQUIRE_STARTED(containerd);
  auto client = containerd.NewClient();
  const std::string data = TestData(2'500'000, 'a');  // three WRITE chunks
  const Descriptor descriptor = BlobDescriptor(data);

  MemoryBlobSource source(data);
  REQUIRE(client->WriteContent("test-blob", descriptor, source, {{"zlayer.test/kind", "blob"}}, "")
              .ok());
  CHECK(source.seeks().empty());

  auto info = client->GetContent(descriptor.digest);
  REQUIRE(info.ok());
  CHECK(info->size == descriptor.size);
  CHECK(info->labels == Labels{{"zlayer.test/kind", "blob"}});

  auto read = client->ReadContent(descriptor.digest, descriptor.size);
  REQUIRE(read.ok());
  CHECK(*read == data);
  CHECK(client->ReadContent(descriptor.digest, descriptor.size - 1).status().code() ==
        StatusCode::kOutOfRange);

  SECTION("labels are set one by one, an empty value removes one") {
    REQUIRE(client->UpdateContentLabels(descriptor.digest, {{"zlayer.test/extra", "1"}}).ok());
    REQUIRE(client->UpdateContentLabels(descriptor.digest, {{"zlayer.test/kind", ""}}).ok());
    CHECK(client->GetContent(descriptor.digest)->labels == Labels{{"zlayer.test/extra", "1"}});
  }
  SECTION("writing it again succeeds without reading the source and adds its labels") {
    MemoryBlobSource again(data);
    REQUIRE(
        client->WriteContent("test-blob-again", descriptor, again, {{"zlayer.test/again", "1"}}, "")
            .ok());
    CHECK(again.reads() == 0);
    CHECK(client->GetContent(descriptor.digest)->labels ==
          Labels{{"zlayer.test/kind", "blob"}, {"zlayer.test/again", "1"}});
  }
  SECTION("deleting it makes it unknown") {
    REQUIRE(client->DeleteContent(descriptor.digest).ok());
    auto gone = client->GetContent(descriptor.digest);
    CHECK(gone.status().code() == StatusCode::kNotFound);
    CHECK(gone.status().message().rfind("content.info sha256:", 0) == 0);
  }
}

TEST_CASE(
    "containerd client: a blob whose bytes do not match the digest is rejected and not stored",
    "[containerd]") {
  PrivateContainerd containerd;
  REQUIRE_STARTED(containerd);
  auto client = containerd.NewClient();
  const std::string data = TestData(4096, 'b');
  const std::string other = TestData(4096, 'c');
  const Descriptor claimed = BlobDescriptor(other);

  MemoryBlobSource source(data);
  Status status = client->WriteContent("test-mismatch", claimed, source, {}, "");
  CHECK(status.code() == StatusCode::kFailedPrecondition);
  CHECK(status.message().rfind("content.write test-mismatch: ", 0) == 0);
  CHECK(client->GetContent(claimed.digest).status().code() == StatusCode::kNotFound);
  CHECK(client->GetContent(Sha256Digest(data)).status().code() == StatusCode::kNotFound);

  // The bad ingest was aborted: the same ref with the right bytes starts afresh.
  MemoryBlobSource right(other);
  REQUIRE(client->WriteContent("test-mismatch", claimed, right, {}, "").ok());
  CHECK(right.seeks().empty());
  CHECK(*client->ReadContent(claimed.digest, claimed.size) == other);
}

TEST_CASE("containerd client: an interrupted write resumes where containerd's ingest ended",
          "[containerd]") {
  PrivateContainerd containerd;
  REQUIRE_STARTED(containerd);
  auto client = containerd.NewClient();
  const std::string data = TestData(3 << 20, 'd');
  const Descriptor descriptor = BlobDescriptor(data);

  MemoryBlobSource broken(data, /*fail_after_reads=*/1);  // one 1 MiB chunk, then an error
  Status status = client->WriteContent("test-resume", descriptor, broken, {}, "");
  CHECK(status.code() == StatusCode::kUnavailable);
  CHECK(status.message().find("the download broke") != std::string::npos);
  CHECK(client->GetContent(descriptor.digest).status().code() == StatusCode::kNotFound);

  MemoryBlobSource resumed(data);
  REQUIRE(client->WriteContent("test-resume", descriptor, resumed, {}, "").ok());
  CHECK(resumed.seeks() == std::vector<int64_t>{1 << 20});
  CHECK(*client->ReadContent(descriptor.digest, descriptor.size) == data);
}

TEST_CASE("containerd client: a lease keeps unreferenced content alive until it is deleted",
          "[containerd]") {
  PrivateContainerd containerd;
  REQUIRE_STARTED(containerd);
  auto client = containerd.NewClient();
  const std::string data = TestData(10'000, 'e');
  const std::string digest = Sha256Digest(data);

  auto lease = client->CreateLease(1h);
  REQUIRE(lease.ok());
  CHECK(lease->rfind("zlayer-", 0) == 0);
  REQUIRE(WriteBlob(*client, data, {}, *lease).ok());

  // Deleting a throw-away lease with sync runs a garbage collection.
  auto throwaway = client->CreateLease(1h);
  REQUIRE(throwaway.ok());
  REQUIRE(client->DeleteLease(*throwaway, /*sync=*/true).ok());
  CHECK(client->GetContent(digest).ok());

  REQUIRE(client->DeleteLease(*lease, /*sync=*/true).ok());
  CHECK(client->GetContent(digest).status().code() == StatusCode::kNotFound);
  CHECK(client->DeleteLease(*lease, false).code() == StatusCode::kNotFound);
}

TEST_CASE("containerd client: image records are created, replaced, listed and deleted",
          "[containerd]") {
  PrivateContainerd containerd;
  REQUIRE_STARTED(containerd);
  auto client = containerd.NewClient();
  ImageRecord image;
  image.name = "registry.test/zlayer/hello:1";
  image.target = Descriptor{kManifestMediaType, Sha256Digest("manifest one"), 1234, {}};
  image.labels = {{"zlayer.test/version", "1"}};

  REQUIRE(client->PutImage(image).ok());
  auto stored = client->GetImage(image.name);
  REQUIRE(stored.ok());
  CHECK(stored->target.digest == image.target.digest);
  CHECK(stored->target.size == 1234);
  CHECK(stored->target.media_type == kManifestMediaType);
  CHECK(stored->labels == image.labels);
  CHECK(stored->created_at.time_since_epoch().count() > 0);

  image.target.digest = Sha256Digest("manifest two");
  image.labels = {{"zlayer.test/version", "2"}};
  REQUIRE(client->PutImage(image).ok());
  stored = client->GetImage(image.name);
  REQUIRE(stored.ok());
  CHECK(stored->target.digest == image.target.digest);
  CHECK(stored->labels == image.labels);

  auto listed = client->ListImages();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().name == image.name);

  REQUIRE(client->DeleteImage(image.name, /*sync=*/true).ok());
  CHECK(client->GetImage(image.name).status().code() == StatusCode::kNotFound);
  CHECK(client->DeleteImage(image.name, false).code() == StatusCode::kNotFound);
}

TEST_CASE(
    "containerd client: events of another namespace are not delivered, and Cancel ends the stream "
    "once",
    "[containerd]") {
  PrivateContainerd containerd;
  REQUIRE_STARTED(containerd);
  auto client = containerd.NewClient();
  ClientOptions other_options{containerd.socket_path(), containerd.namespace_name() + "-other",
                              10s};
  auto other = NewGrpcClient(other_options);

  EventLog log;
  auto subscription = Subscribe(*client, log, {R"(topic=="/images/create")"});
  ImageRecord image{"registry.test/zlayer/events:1",
                    Descriptor{kManifestMediaType, Sha256Digest("events"), 10, {}}};
  REQUIRE(other->PutImage(image).ok());
  REQUIRE(other->DeleteImage(image.name, false).ok());
  REQUIRE(client->PutImage(image).ok());

  auto created = log.WaitFor("/images/create", 5s);
  REQUIRE(created.has_value());
  CHECK(created->namespace_name == containerd.namespace_name());
  subscription->Cancel();
  subscription.reset();
  CHECK(log.events().size() == 1);
  REQUIRE(log.end_statuses().size() == 1);
  CHECK(log.end_statuses().front().ok());
}

TEST_CASE(
    "containerd client: a container built from a hand-made layer runs, exits 3 and is cleaned up",
    "[containerd]") {
  PrivateContainerd containerd;
  REQUIRE_STARTED(containerd);
  auto client = containerd.NewClient();
  const std::string& snapshotter = containerd.snapshotter();
  const std::string id = "hello";
  INFO("snapshotter " << snapshotter);

  auto lease = client->CreateLease(1h);
  REQUIRE(lease.ok());
  auto layer = UnpackBusyboxLayer(*client, snapshotter, *lease);
  INFO(layer.status().ToString());
  REQUIRE(layer.ok());
  auto committed = client->StatSnapshot(snapshotter, *layer);
  REQUIRE(committed.ok());
  CHECK(committed->kind == SnapshotKind::kCommitted);

  const std::string spec_json = MinimalSpec(containerd.namespace_name(), id, "echo hello; exit 3");
  REQUIRE(
      CreateBusyboxContainer(*client, containerd, id, *layer, "echo hello; exit 3", *lease).ok());
  auto fetched = client->GetContainer(id);
  REQUIRE(fetched.ok());
  CHECK(fetched->spec_json == spec_json);
  CHECK(fetched->snapshot_key == id);
  CHECK(fetched->runtime == "io.containerd.runc.v2");
  auto listed = client->ListContainers(R"(labels."zlayer.test"==run)");
  REQUIRE(listed.ok());
  CHECK(listed->size() == 1);
  CHECK(client->ListContainers(R"(labels."zlayer.test"==other)")->empty());

  // The shim opens the FIFOs for writing inside Tasks.Create: readers first.
  const std::string fifo_dir = containerd.NewFifoDir();
  REQUIRE(!fifo_dir.empty());
  OpenFifo out(fifo_dir + "/" + id + "-stdout");
  OpenFifo err(fifo_dir + "/" + id + "-stderr");
  REQUIRE(out.ok());
  REQUIRE(err.ok());

  EventLog events;
  auto subscription = Subscribe(*client, events, {R"(topic=="/tasks/exit")"});

  auto rootfs = client->SnapshotMounts(snapshotter, id);
  REQUIRE(rootfs.ok());
  CreateTaskRequest task{id, *rootfs, "", out.path(), err.path(), false};
  auto created_pid = client->CreateTask(task);
  INFO(created_pid.status().ToString() << "\n" << containerd.LogTail());
  REQUIRE(created_pid.ok());
  auto info = client->GetTask(id);
  REQUIRE(info.ok());
  CHECK(info->container_id == id);
  CHECK(info->exec_id.empty());
  CHECK(info->status == TaskStatus::kCreated);
  CHECK(info->stdout_path == out.path());

  auto started_pid = client->StartTask(id, "");
  REQUIRE(started_pid.ok());
  CHECK(*started_pid == *created_pid);

  auto exit = events.WaitFor("/tasks/exit", 10s);
  REQUIRE(exit.has_value());
  CHECK(exit->container_id == id);
  CHECK(exit->exec_id == id);
  CHECK(exit->pid == *created_pid);
  CHECK(exit->exit_status == 3);
  CHECK(exit->namespace_name == containerd.namespace_name());
  CHECK(ReadUntil(out.fd(), "hello\n", 5s) == "hello\n");

  auto tasks = client->ListTasks();
  REQUIRE(tasks.ok());
  REQUIRE(tasks->size() == 1);
  CHECK(tasks->front().container_id == id);
  CHECK(tasks->front().status == TaskStatus::kStopped);
  CHECK(tasks->front().exit_status == 3);

  auto deleted = client->DeleteTask(id);
  REQUIRE(deleted.ok());
  CHECK(deleted->exit_status == 3);
  CHECK(deleted->pid == *created_pid);
  Status kill = client->KillTask(id, "", SIGKILL, false);
  CHECK(kill.code() == StatusCode::kNotFound);
  CHECK(kill.message().rfind("tasks.kill hello: ", 0) == 0);
  CHECK(client->GetTask(id).status().code() == StatusCode::kNotFound);

  subscription.reset();
  CHECK(client->RemoveSnapshot(snapshotter, id).ok());
  CHECK(client->DeleteContainer(id).ok());
  CHECK(client->GetContainer(id).status().code() == StatusCode::kNotFound);
  CHECK(client->DeleteLease(*lease, false).ok());
}

TEST_CASE(
    "containerd client: an exec runs beside the init process, and closing stdin ends the init",
    "[containerd]") {
  PrivateContainerd containerd;
  REQUIRE_STARTED(containerd);
  auto client = containerd.NewClient();
  const std::string id = "catter";
  auto lease = client->CreateLease(1h);
  REQUIRE(lease.ok());
  auto layer = UnpackBusyboxLayer(*client, containerd.snapshotter(), *lease);
  INFO(layer.status().ToString());
  REQUIRE(layer.ok());
  REQUIRE(CreateBusyboxContainer(*client, containerd, id, *layer, "cat; exit 3", *lease).ok());

  const std::string fifo_dir = containerd.NewFifoDir();
  OpenFifo in(fifo_dir + "/" + id + "-stdin");
  OpenFifo out(fifo_dir + "/" + id + "-stdout");
  // Without a terminal the shim needs stdout and stderr both once any stream is
  // given: an empty stderr fails Tasks.Create ("opening file \"\" failed").
  OpenFifo err(fifo_dir + "/" + id + "-stderr");
  OpenFifo exec_out(fifo_dir + "/probe-stdout");
  OpenFifo exec_err(fifo_dir + "/probe-stderr");
  REQUIRE((in.ok() && out.ok() && err.ok() && exec_out.ok() && exec_err.ok()));
  EventLog events;
  auto subscription = Subscribe(*client, events, {R"(topic=="/tasks/exit")"});
  auto rootfs = client->SnapshotMounts(containerd.snapshotter(), id);
  REQUIRE(rootfs.ok());
  auto pid = client->CreateTask({id, *rootfs, in.path(), out.path(), err.path(), false});
  INFO(pid.status().ToString());
  REQUIRE(pid.ok());
  REQUIRE(client->StartTask(id, "").ok());

  ExecRequest exec;
  exec.container_id = id;
  exec.exec_id = "probe";
  exec.process_json = R"({"args": ["/bin/sh", "-c", "echo exec-ok; exit 7"], "cwd": "/",
                          "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}})";
  exec.stdout_path = exec_out.path();
  exec.stderr_path = exec_err.path();
  REQUIRE(client->Exec(exec).ok());
  auto exec_pid = client->StartTask(id, "probe");
  REQUIRE(exec_pid.ok());
  CHECK(*exec_pid != *pid);
  auto exec_exit = events.WaitFor("/tasks/exit", 10s);
  REQUIRE(exec_exit.has_value());
  CHECK(exec_exit->exec_id == "probe");
  CHECK(exec_exit->exit_status == 7);
  CHECK(ReadUntil(exec_out.fd(), "exec-ok\n", 5s) == "exec-ok\n");
  auto exec_deleted = client->DeleteProcess(id, "probe");
  REQUIRE(exec_deleted.ok());
  CHECK(exec_deleted->exit_status == 7);
  CHECK(client->GetTask(id)->status == TaskStatus::kRunning);
  CHECK(client->ResizePty(id, "no-such-exec", 80, 24).code() == StatusCode::kNotFound);

  REQUIRE(write(in.fd(), "ping\n", 5) == 5);
  CHECK(ReadUntil(out.fd(), "ping\n", 5s) == "ping\n");
  in.Close();
  REQUIRE(client->CloseStdin(id, "").ok());  // the shim's own write end goes: cat sees EOF
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (client->GetTask(id)->status != TaskStatus::kStopped &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  auto deleted = client->DeleteTask(id);
  REQUIRE(deleted.ok());
  CHECK(deleted->exit_status == 3);
  subscription.reset();
  CHECK(client->RemoveSnapshot(containerd.snapshotter(), id).ok());
  CHECK(client->DeleteContainer(id).ok());
}

TEST_CASE("containerd client: a second writer of a ref waits until the first has finished",
          "[containerd]") {
  PrivateContainerd containerd;
  REQUIRE_STARTED(containerd);
  auto client = containerd.NewClient();
  const std::string data = TestData(3 << 20, 'f');
  const Descriptor descriptor = BlobDescriptor(data);

  // The first writer stalls after its first chunk, holding containerd's lock on the ref.
  std::promise<void> first_chunk_sent, release;
  std::shared_future<void> released = release.get_future().share();
  class StallingSource : public MemoryBlobSource {
   public:
    StallingSource(std::string data, std::promise<void>& first, std::shared_future<void> go)
        : MemoryBlobSource(std::move(data)), first_(first), go_(std::move(go)) {}
    Result<size_t> Read(char* buffer, size_t size) override {
      if (reads() == 1) {
        first_.set_value();
        go_.wait();
      }
      return MemoryBlobSource::Read(buffer, size);
    }

   private:
    std::promise<void>& first_;
    std::shared_future<void> go_;
  } stalling(data, first_chunk_sent, released);

  Status first_status;
  std::thread first(
      [&] { first_status = client->WriteContent("test-locked", descriptor, stalling, {}, ""); });
  first_chunk_sent.get_future().wait();
  std::thread releaser([&] {
    std::this_thread::sleep_for(300ms);
    release.set_value();
  });

  const auto before = std::chrono::steady_clock::now();
  MemoryBlobSource second(data);
  Status second_status = client->WriteContent("test-locked", descriptor, second, {}, "");
  const auto waited = std::chrono::steady_clock::now() - before;
  first.join();
  releaser.join();
  CHECK(first_status.ok());
  CHECK(second_status.ok());
  CHECK(waited >= 250ms);
  CHECK(*client->ReadContent(descriptor.digest, descriptor.size) == data);
}

TEST_CASE("containerd client: content under an expired lease is collected", "[containerd]") {
  PrivateContainerd containerd;
  REQUIRE_STARTED(containerd);
  auto client = containerd.NewClient();
  const std::string data = TestData(1000, 'g');

  // gc.expire is now (whole seconds): containerd must parse it and find it past.
  auto expired = client->CreateLease(0s);
  REQUIRE(expired.ok());
  REQUIRE(WriteBlob(*client, data, {}, *expired).ok());
  auto trigger = client->CreateLease(1h);
  REQUIRE(trigger.ok());
  REQUIRE(client->DeleteLease(*trigger, /*sync=*/true).ok());
  CHECK(client->GetContent(Sha256Digest(data)).status().code() == StatusCode::kNotFound);
}

TEST_CASE(
    "containerd client: while containerd is away calls fail fast with kUnavailable, then work "
    "again",
    "[containerd]") {
  PrivateContainerd containerd;
  REQUIRE_STARTED(containerd);
  auto client = containerd.NewClient();
  REQUIRE(client->Version().ok());

  EventLog events;
  auto subscription = Subscribe(*client, events, {});
  containerd.Stop();

  auto before = std::chrono::steady_clock::now();
  auto version = client->Version();
  CHECK(version.status().code() == StatusCode::kUnavailable);
  CHECK(version.status().message().rfind("version.version: ", 0) == 0);
  CHECK(client->ListContainers("").status().code() == StatusCode::kUnavailable);
  CHECK(WriteBlob(*client, "away").code() == StatusCode::kUnavailable);
  CHECK(std::chrono::steady_clock::now() - before < 2s);
  auto ended = events.WaitForEnd(5s);
  REQUIRE(ended.has_value());
  CHECK(ended->code() == StatusCode::kUnavailable);
  subscription.reset();
  CHECK(events.end_statuses().size() == 1);

  REQUIRE(containerd.Start().ok());
  before = std::chrono::steady_clock::now();
  Result<VersionInfo> again = client->Version();
  while (!again.ok() && std::chrono::steady_clock::now() - before < 10s) {
    std::this_thread::sleep_for(50ms);
    again = client->Version();
  }
  CHECK(again.ok());
  CHECK(std::chrono::steady_clock::now() - before < 4s);
  CHECK(WriteBlob(*client, "back").ok());
}

}  // namespace
}  // namespace zlayer::containerd::testing
