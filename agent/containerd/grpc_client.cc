// The real Client: each method builds its request, makes one call through
// Unary() (deadline, namespace and lease headers, error conversion) and
// converts the response. The Content.Write protocol lives in
// content_writer.cc, the event stream in event_stream.cc.
#include <fmt/format.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <atomic>
#include <random>
#include <thread>

#include "agent/containerd/client.h"
#include "agent/containerd/content_writer.h"
#include "agent/containerd/event_stream.h"
#include "agent/containerd/grpc_call.h"
#include "agent/containerd/proto_conversions.h"
#include "common/rfc3339.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/diff/v1/diff.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/namespaces/v1/namespace.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"

namespace zlayer::containerd {

namespace {

namespace containers_v1 = ::containerd::services::containers::v1;
namespace content_v1 = ::containerd::services::content::v1;
namespace diff_v1 = ::containerd::services::diff::v1;
namespace images_v1 = ::containerd::services::images::v1;
namespace leases_v1 = ::containerd::services::leases::v1;
namespace namespaces_v1 = ::containerd::services::namespaces::v1;
namespace snapshots_v1 = ::containerd::services::snapshots::v1;
namespace tasks_v1 = ::containerd::services::tasks::v1;
namespace version_v1 = ::containerd::services::version::v1;
using google::protobuf::Empty;

constexpr int kMaxMessageBytes = 16 << 20;  // what containerd and its Go client allow
// Reconnect quickly after a containerd restart (gRPC's default starts at 1 s
// and grows to 120 s). GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is left alone on
// purpose: gRPC uses it as the connect (handshake) timeout, and 100 ms there
// makes connections fail on a loaded machine.
constexpr int kInitialReconnectBackoffMs = 100;
constexpr int kMaxReconnectBackoffMs = 2000;
// Tasks.Create waits up to 30 s for the shim to open the FIFOs.
constexpr std::chrono::milliseconds kMinCreateTaskTimeout = std::chrono::seconds(45);
// Floors for calls whose work grows with a blob: reading from the content
// store, unpacking (decompress + write) a layer.
constexpr int64_t kSlowestReadBytesPerSecond = 16 << 20;
constexpr int64_t kSlowestApplyBytesPerSecond = 4 << 20;

std::string ChannelTarget(const std::string& socket_path) {
  // "unix:///abs/path" for absolute paths; "unix:rel/path" for relative ones.
  if (!socket_path.empty() && socket_path.front() == '/') return "unix://" + socket_path;
  return "unix:" + socket_path;
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& socket_path) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
  arguments.SetMaxSendMessageSize(kMaxMessageBytes);
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMs);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  return grpc::CreateCustomChannel(ChannelTarget(socket_path), grpc::InsecureChannelCredentials(),
                                   arguments);
}

// gRPC C++ advances a connection attempt (connect, HTTP/2 handshake) only
// while some thread polls the channel. A fail-fast call made while the channel
// is in TRANSIENT_FAILURE returns at once without polling, so after containerd
// (re)starts the handshake would wait for gRPC's 5 s backup poller and calls
// would keep failing meanwhile. This thread keeps watching the channel's
// state, which polls it. It never asks to connect: the channel stays lazy.
class ChannelPoller {
 public:
  explicit ChannelPoller(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)), thread_([this] { Run(); }) {}
  ~ChannelPoller() {
    stop_ = true;
    thread_.join();  // within one kPollSlice
  }
  ChannelPoller(const ChannelPoller&) = delete;
  ChannelPoller& operator=(const ChannelPoller&) = delete;

 private:
  static constexpr auto kPollSlice = std::chrono::milliseconds(100);

  void Run() {
    while (!stop_) {
      const grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/false);
      channel_->WaitForStateChange(state, std::chrono::system_clock::now() + kPollSlice);
    }
  }

  const std::shared_ptr<grpc::Channel> channel_;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts after the members it reads
};

// "zlayer-<nanoseconds since the epoch>-<6 random hex digits>".
std::string NewLeaseId() {
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  std::random_device random;
  return fmt::format("zlayer-{}-{:06x}", nanos, random() & 0xffffff);
}

std::string ProcessName(const std::string& container_id, const std::string& exec_id) {
  return exec_id.empty() ? container_id : fmt::format("{}/{}", container_id, exec_id);
}

ExitInfo FromDeleteResponse(const tasks_v1::DeleteResponse& response) {
  return ExitInfo{static_cast<pid_t>(response.pid()), response.exit_status(),
                  FromProtoTime(response.exited_at())};
}

class GrpcClient final : public Client {
 public:
  explicit GrpcClient(const ClientOptions& options)
      : options_(options),
        channel_(NewChannel(options.socket_path)),
        containers_(containers_v1::Containers::NewStub(channel_)),
        content_(content_v1::Content::NewStub(channel_)),
        diff_(diff_v1::Diff::NewStub(channel_)),
        images_(images_v1::Images::NewStub(channel_)),
        leases_(leases_v1::Leases::NewStub(channel_)),
        namespaces_(namespaces_v1::Namespaces::NewStub(channel_)),
        snapshots_(snapshots_v1::Snapshots::NewStub(channel_)),
        tasks_(tasks_v1::Tasks::NewStub(channel_)),
        version_(version_v1::Version::NewStub(channel_)),
        poller_(channel_) {}

  const std::string& namespace_name() const override { return options_.namespace_name; }

  // --- daemon ---------------------------------------------------------------------------

  Result<VersionInfo> Version() override {
    version_v1::VersionResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*version_, &version_v1::Version::StubInterface::Version, Empty(),
                                 &response, "version.version", ""));
    return VersionInfo{response.version(), response.revision()};
  }

  // --- namespaces -----------------------------------------------------------------------

  Status EnsureNamespace(const Labels& labels) override {
    namespaces_v1::CreateNamespaceRequest create;
    create.mutable_namespace_()->set_name(options_.namespace_name);
    ToProtoLabels(labels, create.mutable_namespace_()->mutable_labels());
    namespaces_v1::CreateNamespaceResponse created;
    Status status = Unary(*namespaces_, &namespaces_v1::Namespaces::StubInterface::Create, create,
                          &created, "namespaces.create", options_.namespace_name);
    if (status.code() != StatusCode::kAlreadyExists) return status;
    if (labels.empty()) return Status::Ok();

    namespaces_v1::UpdateNamespaceRequest update;
    *update.mutable_namespace_() = create.namespace_();
    for (const auto& [key, value] : labels)
      update.mutable_update_mask()->add_paths("labels." + key);
    namespaces_v1::UpdateNamespaceResponse updated;
    return Unary(*namespaces_, &namespaces_v1::Namespaces::StubInterface::Update, update, &updated,
                 "namespaces.update", options_.namespace_name);
  }

  // --- leases ---------------------------------------------------------------------------

  Result<std::string> CreateLease(std::chrono::seconds expire) override {
    leases_v1::CreateRequest request;
    request.set_id(NewLeaseId());
    (*request.mutable_labels())[kLabelGcExpire] =
        FormatRfc3339Nano(std::chrono::system_clock::now() + expire);
    leases_v1::CreateResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*leases_, &leases_v1::Leases::StubInterface::Create, request,
                                 &response, "leases.create", request.id()));
    return response.lease().id().empty() ? request.id() : response.lease().id();
  }

  Status DeleteLease(const std::string& id, bool sync) override {
    leases_v1::DeleteRequest request;
    request.set_id(id);
    request.set_sync(sync);
    Empty response;
    return Unary(*leases_, &leases_v1::Leases::StubInterface::Delete, request, &response,
                 "leases.delete", id);
  }

  // --- content --------------------------------------------------------------------------

  Result<ContentInfo> GetContent(const std::string& digest) override {
    content_v1::InfoRequest request;
    request.set_digest(digest);
    content_v1::InfoResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*content_, &content_v1::Content::StubInterface::Info, request,
                                 &response, "content.info", digest));
    const auto& info = response.info();
    return ContentInfo{info.digest(), info.size(), FromProtoLabels(info.labels())};
  }

  Result<std::string> ReadContent(const std::string& digest, int64_t max_size) override {
    Result<ContentInfo> info = GetContent(digest);
    if (!info.ok()) return info.status();
    if (info->size > max_size) {
      return Status(StatusCode::kOutOfRange,
                    fmt::format("content.read {}: the blob has {} bytes, more than the {} allowed",
                                digest, info->size, max_size));
    }
    grpc::ClientContext context;
    PrepareContext(
        context, options_.namespace_name,
        {TimeoutForBytes(options_.call_timeout, info->size, kSlowestReadBytesPerSecond), ""});
    content_v1::ReadContentRequest request;
    request.set_digest(digest);
    auto reader = content_->Read(&context, request);
    std::string data;
    data.reserve(static_cast<size_t>(info->size));
    content_v1::ReadContentResponse chunk;
    while (reader->Read(&chunk)) {
      if (static_cast<int64_t>(data.size() + chunk.data().size()) > info->size) {
        context.TryCancel();
        while (reader->Read(&chunk)) {
        }
        (void)reader->Finish();
        return Status(StatusCode::kDataLoss,
                      fmt::format("content.read {}: more than the {} bytes Info reported", digest,
                                  info->size));
      }
      data += chunk.data();
    }
    ZLAYER_RETURN_IF_ERROR(FromGrpcStatus(reader->Finish(), "content.read", digest));
    if (static_cast<int64_t>(data.size()) != info->size) {
      return Status(StatusCode::kDataLoss,
                    fmt::format("content.read {}: read {} bytes, Info reported {}", digest,
                                data.size(), info->size));
    }
    return data;
  }

  Status WriteContent(const std::string& ref, const Descriptor& expected, BlobSource& source,
                      const Labels& labels, const std::string& lease) override {
    return WriteContentBlob(*content_, options_.namespace_name, options_.call_timeout, ref,
                            expected, source, labels, lease);
  }

  Status UpdateContentLabels(const std::string& digest, const Labels& labels) override {
    return containerd::UpdateContentLabels(*content_, options_.namespace_name,
                                           options_.call_timeout, digest, labels, "");
  }

  Status DeleteContent(const std::string& digest) override {
    content_v1::DeleteContentRequest request;
    request.set_digest(digest);
    Empty response;
    return Unary(*content_, &content_v1::Content::StubInterface::Delete, request, &response,
                 "content.delete", digest);
  }

  // --- images ---------------------------------------------------------------------------

  Result<ImageRecord> GetImage(const std::string& name) override {
    images_v1::GetImageRequest request;
    request.set_name(name);
    images_v1::GetImageResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*images_, &images_v1::Images::StubInterface::Get, request,
                                 &response, "images.get", name));
    return FromProtoImage(response.image());
  }

  Result<std::vector<ImageRecord>> ListImages() override {
    images_v1::ListImagesRequest request;
    images_v1::ListImagesResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*images_, &images_v1::Images::StubInterface::List, request,
                                 &response, "images.list", ""));
    std::vector<ImageRecord> result;
    result.reserve(response.images_size());
    for (const auto& image : response.images()) result.push_back(FromProtoImage(image));
    return result;
  }

  Status PutImage(const ImageRecord& image) override {
    // Create, or replace target and labels of an existing record (Update with
    // no mask); an image deleted in between is created again.
    for (int attempt = 0;; ++attempt) {
      images_v1::CreateImageRequest create;
      ToProtoImage(image, create.mutable_image());
      images_v1::CreateImageResponse created;
      Status status = Unary(*images_, &images_v1::Images::StubInterface::Create, create, &created,
                            "images.create", image.name);
      if (status.code() != StatusCode::kAlreadyExists) return status;

      images_v1::UpdateImageRequest update;
      *update.mutable_image() = create.image();
      images_v1::UpdateImageResponse updated;
      status = Unary(*images_, &images_v1::Images::StubInterface::Update, update, &updated,
                     "images.update", image.name);
      if (status.code() != StatusCode::kNotFound || attempt > 0) return status;
    }
  }

  Status DeleteImage(const std::string& name, bool sync) override {
    images_v1::DeleteImageRequest request;
    request.set_name(name);
    request.set_sync(sync);
    Empty response;
    return Unary(*images_, &images_v1::Images::StubInterface::Delete, request, &response,
                 "images.delete", name);
  }

  // --- snapshots ------------------------------------------------------------------------

  Result<SnapshotInfo> StatSnapshot(const std::string& snapshotter,
                                    const std::string& key) override {
    snapshots_v1::StatSnapshotRequest request;
    request.set_snapshotter(snapshotter);
    request.set_key(key);
    snapshots_v1::StatSnapshotResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*snapshots_, &snapshots_v1::Snapshots::StubInterface::Stat,
                                 request, &response, "snapshots.stat",
                                 SnapshotName(snapshotter, key)));
    return FromProtoSnapshotInfo(response.info());
  }

  Result<std::vector<Mount>> PrepareSnapshot(const std::string& snapshotter, const std::string& key,
                                             const std::string& parent, const Labels& labels,
                                             const std::string& lease) override {
    snapshots_v1::PrepareSnapshotRequest request;
    request.set_snapshotter(snapshotter);
    request.set_key(key);
    request.set_parent(parent);
    ToProtoLabels(labels, request.mutable_labels());
    snapshots_v1::PrepareSnapshotResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*snapshots_, &snapshots_v1::Snapshots::StubInterface::Prepare,
                                 request, &response, "snapshots.prepare",
                                 SnapshotName(snapshotter, key), lease));
    return FromProtoMounts(response.mounts());
  }

  Status CommitSnapshot(const std::string& snapshotter, const std::string& name,
                        const std::string& key, const Labels& labels,
                        const std::string& lease) override {
    snapshots_v1::CommitSnapshotRequest request;
    request.set_snapshotter(snapshotter);
    request.set_name(name);
    request.set_key(key);
    ToProtoLabels(labels, request.mutable_labels());
    Empty response;
    return Unary(*snapshots_, &snapshots_v1::Snapshots::StubInterface::Commit, request, &response,
                 "snapshots.commit", SnapshotName(snapshotter, key), lease);
  }

  Result<std::vector<Mount>> SnapshotMounts(const std::string& snapshotter,
                                            const std::string& key) override {
    snapshots_v1::MountsRequest request;
    request.set_snapshotter(snapshotter);
    request.set_key(key);
    snapshots_v1::MountsResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*snapshots_, &snapshots_v1::Snapshots::StubInterface::Mounts,
                                 request, &response, "snapshots.mounts",
                                 SnapshotName(snapshotter, key)));
    return FromProtoMounts(response.mounts());
  }

  Status RemoveSnapshot(const std::string& snapshotter, const std::string& key) override {
    snapshots_v1::RemoveSnapshotRequest request;
    request.set_snapshotter(snapshotter);
    request.set_key(key);
    Empty response;
    return Unary(*snapshots_, &snapshots_v1::Snapshots::StubInterface::Remove, request, &response,
                 "snapshots.remove", SnapshotName(snapshotter, key));
  }

  // --- diff -----------------------------------------------------------------------------

  Result<Descriptor> ApplyDiff(const Descriptor& layer, const std::vector<Mount>& mounts,
                               const std::string& lease) override {
    diff_v1::ApplyRequest request;
    ToProtoDescriptor(layer, request.mutable_diff());
    ToProtoMounts(mounts, request.mutable_mounts());
    diff_v1::ApplyResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(
        *diff_, &diff_v1::Diff::StubInterface::Apply, request, &response, "diff.apply",
        layer.digest,
        {TimeoutForBytes(options_.call_timeout, layer.size, kSlowestApplyBytesPerSecond), lease}));
    return FromProtoDescriptor(response.applied());
  }

  // --- containers -----------------------------------------------------------------------

  Status CreateContainer(const ContainerRecord& container, const std::string& lease) override {
    containers_v1::CreateContainerRequest request;
    ToProtoContainer(container, request.mutable_container());
    containers_v1::CreateContainerResponse response;
    return Unary(*containers_, &containers_v1::Containers::StubInterface::Create, request,
                 &response, "containers.create", container.id, lease);
  }

  Result<ContainerRecord> GetContainer(const std::string& id) override {
    containers_v1::GetContainerRequest request;
    request.set_id(id);
    containers_v1::GetContainerResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*containers_, &containers_v1::Containers::StubInterface::Get,
                                 request, &response, "containers.get", id));
    return FromProtoContainer(response.container());
  }

  Result<std::vector<ContainerRecord>> ListContainers(const std::string& filter) override {
    containers_v1::ListContainersRequest request;
    if (!filter.empty()) request.add_filters(filter);
    containers_v1::ListContainersResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*containers_, &containers_v1::Containers::StubInterface::List,
                                 request, &response, "containers.list", filter));
    std::vector<ContainerRecord> result;
    result.reserve(response.containers_size());
    for (const auto& container : response.containers()) {
      result.push_back(FromProtoContainer(container));
    }
    return result;
  }

  Status DeleteContainer(const std::string& id) override {
    containers_v1::DeleteContainerRequest request;
    request.set_id(id);
    Empty response;
    return Unary(*containers_, &containers_v1::Containers::StubInterface::Delete, request,
                 &response, "containers.delete", id);
  }

  // --- tasks ----------------------------------------------------------------------------

  Result<pid_t> CreateTask(const CreateTaskRequest& task) override {
    tasks_v1::CreateTaskRequest request;
    request.set_container_id(task.container_id);
    ToProtoMounts(task.rootfs, request.mutable_rootfs());
    request.set_stdin(task.stdin_path);
    request.set_stdout(task.stdout_path);
    request.set_stderr(task.stderr_path);
    request.set_terminal(task.terminal);
    tasks_v1::CreateTaskResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*tasks_, &tasks_v1::Tasks::StubInterface::Create, request,
                                 &response, "tasks.create", task.container_id,
                                 {std::max(options_.call_timeout, kMinCreateTaskTimeout), ""}));
    return static_cast<pid_t>(response.pid());
  }

  Result<pid_t> StartTask(const std::string& container_id, const std::string& exec_id) override {
    tasks_v1::StartRequest request;
    request.set_container_id(container_id);
    request.set_exec_id(exec_id);
    tasks_v1::StartResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*tasks_, &tasks_v1::Tasks::StubInterface::Start, request,
                                 &response, "tasks.start", ProcessName(container_id, exec_id)));
    return static_cast<pid_t>(response.pid());
  }

  Result<TaskInfo> GetTask(const std::string& container_id) override {
    tasks_v1::GetRequest request;
    request.set_container_id(container_id);
    tasks_v1::GetResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*tasks_, &tasks_v1::Tasks::StubInterface::Get, request, &response,
                                 "tasks.get", container_id));
    return FromProtoProcess(response.process(), container_id);
  }

  Result<std::vector<TaskInfo>> ListTasks() override {
    tasks_v1::ListTasksRequest request;
    tasks_v1::ListTasksResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*tasks_, &tasks_v1::Tasks::StubInterface::List, request, &response,
                                 "tasks.list", ""));
    std::vector<TaskInfo> result;
    result.reserve(response.tasks_size());
    for (const auto& process : response.tasks()) result.push_back(FromProtoProcess(process, ""));
    return result;
  }

  Status KillTask(const std::string& container_id, const std::string& exec_id, int signal,
                  bool all) override {
    tasks_v1::KillRequest request;
    request.set_container_id(container_id);
    request.set_exec_id(exec_id);
    request.set_signal(static_cast<uint32_t>(signal));
    request.set_all(all);
    Empty response;
    return Unary(*tasks_, &tasks_v1::Tasks::StubInterface::Kill, request, &response, "tasks.kill",
                 ProcessName(container_id, exec_id));
  }

  Result<ExitInfo> DeleteTask(const std::string& container_id) override {
    tasks_v1::DeleteTaskRequest request;
    request.set_container_id(container_id);
    tasks_v1::DeleteResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*tasks_, &tasks_v1::Tasks::StubInterface::Delete, request,
                                 &response, "tasks.delete", container_id));
    return FromDeleteResponse(response);
  }

  Status Exec(const ExecRequest& exec) override {
    tasks_v1::ExecProcessRequest request;
    request.set_container_id(exec.container_id);
    request.set_exec_id(exec.exec_id);
    request.set_stdin(exec.stdin_path);
    request.set_stdout(exec.stdout_path);
    request.set_stderr(exec.stderr_path);
    request.set_terminal(exec.terminal);
    request.mutable_spec()->set_type_url(kProcessTypeUrl);
    request.mutable_spec()->set_value(exec.process_json);
    Empty response;
    return Unary(*tasks_, &tasks_v1::Tasks::StubInterface::Exec, request, &response, "tasks.exec",
                 ProcessName(exec.container_id, exec.exec_id));
  }

  Result<ExitInfo> DeleteProcess(const std::string& container_id,
                                 const std::string& exec_id) override {
    tasks_v1::DeleteProcessRequest request;
    request.set_container_id(container_id);
    request.set_exec_id(exec_id);
    tasks_v1::DeleteResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*tasks_, &tasks_v1::Tasks::StubInterface::DeleteProcess, request,
                                 &response, "tasks.deleteprocess",
                                 ProcessName(container_id, exec_id)));
    return FromDeleteResponse(response);
  }

  Result<ExitInfo> WaitProcess(const std::string& container_id, const std::string& exec_id,
                               std::chrono::milliseconds timeout) override {
    tasks_v1::WaitRequest request;
    request.set_container_id(container_id);
    request.set_exec_id(exec_id);
    tasks_v1::WaitResponse response;
    ZLAYER_RETURN_IF_ERROR(Unary(*tasks_, &tasks_v1::Tasks::StubInterface::Wait, request, &response,
                                 "tasks.wait", ProcessName(container_id, exec_id),
                                 CallSettings{timeout, ""}));
    return ExitInfo{0, response.exit_status(), FromProtoTime(response.exited_at())};
  }

  Status CloseStdin(const std::string& container_id, const std::string& exec_id) override {
    tasks_v1::CloseIORequest request;
    request.set_container_id(container_id);
    request.set_exec_id(exec_id);
    request.set_stdin(true);
    Empty response;
    return Unary(*tasks_, &tasks_v1::Tasks::StubInterface::CloseIO, request, &response,
                 "tasks.closeio", ProcessName(container_id, exec_id));
  }

  Status ResizePty(const std::string& container_id, const std::string& exec_id, uint32_t width,
                   uint32_t height) override {
    tasks_v1::ResizePtyRequest request;
    request.set_container_id(container_id);
    request.set_exec_id(exec_id);
    request.set_width(width);
    request.set_height(height);
    Empty response;
    return Unary(*tasks_, &tasks_v1::Tasks::StubInterface::ResizePty, request, &response,
                 "tasks.resizepty", ProcessName(container_id, exec_id));
  }

  // --- events ---------------------------------------------------------------------------

  std::unique_ptr<EventSubscription> SubscribeEvents(
      const std::vector<std::string>& filters, std::function<void(const Event&)> on_event,
      std::function<void(const Status&)> on_end) override {
    return StartEventSubscription(channel_, options_.namespace_name, options_.call_timeout, filters,
                                  std::move(on_event), std::move(on_end));
  }

 private:
  static std::string SnapshotName(const std::string& snapshotter, const std::string& key) {
    return fmt::format("{}/{}", snapshotter, key);
  }

  CallSettings DefaultSettings(std::string lease = "") const {
    return CallSettings{options_.call_timeout, std::move(lease)};
  }

  // One unary call of `method` on `stub` in the client's namespace; a non-OK
  // result is "<operation> <object>: <containerd's message>".
  template <typename Stub, typename Request, typename Response>
  Status Unary(Stub& stub,
               grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
               const Request& request, Response* response, std::string_view operation,
               std::string_view object, const std::string& lease = "") {
    return Unary(stub, method, request, response, operation, object, DefaultSettings(lease));
  }

  template <typename Stub, typename Request, typename Response>
  Status Unary(Stub& stub,
               grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
               const Request& request, Response* response, std::string_view operation,
               std::string_view object, const CallSettings& settings) {
    grpc::ClientContext context;
    PrepareContext(context, options_.namespace_name, settings);
    return FromGrpcStatus((stub.*method)(&context, request, response), operation, object);
  }

  const ClientOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  // Stubs are thread-safe; the client holds no other state than the poller.
  const std::unique_ptr<containers_v1::Containers::StubInterface> containers_;
  const std::unique_ptr<content_v1::Content::StubInterface> content_;
  const std::unique_ptr<diff_v1::Diff::StubInterface> diff_;
  const std::unique_ptr<images_v1::Images::StubInterface> images_;
  const std::unique_ptr<leases_v1::Leases::StubInterface> leases_;
  const std::unique_ptr<namespaces_v1::Namespaces::StubInterface> namespaces_;
  const std::unique_ptr<snapshots_v1::Snapshots::StubInterface> snapshots_;
  const std::unique_ptr<tasks_v1::Tasks::StubInterface> tasks_;
  const std::unique_ptr<version_v1::Version::StubInterface> version_;
  ChannelPoller poller_;
};

}  // namespace

std::unique_ptr<Client> NewGrpcClient(const ClientOptions& options) {
  return std::make_unique<GrpcClient>(options);
}

}  // namespace zlayer::containerd
