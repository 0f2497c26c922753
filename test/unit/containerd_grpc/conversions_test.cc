#include <catch2/catch.hpp>

#include "agent/containerd/event_stream.h"
#include "agent/containerd/grpc_call.h"
#include "agent/containerd/proto_conversions.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"

namespace zlayer::containerd {
namespace {

TEST_CASE("containerd grpc: a gRPC error keeps its code and names the call and the object") {
  struct Case {
    grpc::StatusCode grpc_code;
    StatusCode code;
  };
  const Case cases[] = {
      {grpc::StatusCode::NOT_FOUND, StatusCode::kNotFound},
      {grpc::StatusCode::ALREADY_EXISTS, StatusCode::kAlreadyExists},
      {grpc::StatusCode::FAILED_PRECONDITION, StatusCode::kFailedPrecondition},
      {grpc::StatusCode::UNAVAILABLE, StatusCode::kUnavailable},
      {grpc::StatusCode::DEADLINE_EXCEEDED, StatusCode::kDeadlineExceeded},
      {grpc::StatusCode::INVALID_ARGUMENT, StatusCode::kInvalidArgument},
      {grpc::StatusCode::OUT_OF_RANGE, StatusCode::kOutOfRange},
      {grpc::StatusCode::UNAUTHENTICATED, StatusCode::kPermissionDenied},
  };
  for (const auto& c : cases) {
    const Status status =
        FromGrpcStatus(grpc::Status(c.grpc_code, "container not created"), "tasks.start", "web-0");
    CHECK(status.code() == c.code);
    CHECK(status.message() == "tasks.start web-0: container not created");
  }
  CHECK(FromGrpcStatus(grpc::Status::OK, "tasks.start", "web-0").ok());
  CHECK(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNKNOWN, "boom"), "version.version", "")
            .message() == "version.version: boom");
}

TEST_CASE("containerd grpc: a TaskExit envelope with containerd's bare type URL is decoded") {
  ::containerd::events::TaskExit exit;
  exit.set_container_id("web-0");
  exit.set_id("web-0");
  exit.set_pid(4242);
  exit.set_exit_status(137);
  exit.mutable_exited_at()->set_seconds(1700000000);

  ::containerd::services::events::v1::Envelope envelope;
  envelope.set_topic("/tasks/exit");
  envelope.set_namespace_("zlayer");
  envelope.mutable_timestamp()->set_seconds(1700000001);
  envelope.mutable_event()->set_type_url("containerd.events.TaskExit");
  envelope.mutable_event()->set_value(exit.SerializeAsString());

  const Event event = FromEnvelope(envelope);
  CHECK(event.topic == "/tasks/exit");
  CHECK(event.namespace_name == "zlayer");
  CHECK(event.container_id == "web-0");
  CHECK(event.exec_id == "web-0");
  CHECK(event.pid == 4242);
  CHECK(event.exit_status == 137);
  CHECK(event.exited_at == TimePoint(std::chrono::seconds(1700000000)));
  CHECK(event.timestamp == TimePoint(std::chrono::seconds(1700000001)));
}

TEST_CASE("containerd grpc: an event of an unknown type keeps only topic and namespace") {
  ::containerd::services::events::v1::Envelope envelope;
  envelope.set_topic("/snapshot/prepare");
  envelope.set_namespace_("zlayer");
  envelope.mutable_event()->set_type_url("containerd.events.SnapshotPrepare");
  envelope.mutable_event()->set_value("\x0a\x03key");

  const Event event = FromEnvelope(envelope);
  CHECK(event.topic == "/snapshot/prepare");
  CHECK(event.container_id.empty());
  CHECK(event.pid == 0);
}

TEST_CASE("containerd grpc: a listed task takes its container id from process.id") {
  ::containerd::v1::types::Process process;
  process.set_id("web-0");
  process.set_pid(77);
  process.set_status(::containerd::v1::types::RUNNING);
  process.set_stdout("/fifo/web-0-stdout");

  const TaskInfo listed = FromProtoProcess(process, "");
  CHECK(listed.container_id == "web-0");
  CHECK(listed.exec_id.empty());
  CHECK(listed.status == TaskStatus::kRunning);
  CHECK(listed.stdout_path == "/fifo/web-0-stdout");

  process.set_id("probe-1");
  const TaskInfo exec = FromProtoProcess(process, "web-0");
  CHECK(exec.container_id == "web-0");
  CHECK(exec.exec_id == "probe-1");
}

TEST_CASE(
    "containerd grpc: a container's spec is an Any of the runtime-spec type URL, no options") {
  ContainerRecord record;
  record.id = "web-0";
  record.spec_json = R"({"ociVersion":"1.0.2-dev"})";
  record.snapshotter = "overlayfs";
  record.snapshot_key = "web-0";

  ::containerd::services::containers::v1::Container proto;
  ToProtoContainer(record, &proto);
  CHECK(proto.spec().type_url() == "types.containerd.io/opencontainers/runtime-spec/1/Spec");
  CHECK(proto.spec().value() == record.spec_json);
  CHECK(proto.runtime().name() == "io.containerd.runc.v2");
  CHECK_FALSE(proto.runtime().has_options());

  const ContainerRecord back = FromProtoContainer(proto);
  CHECK(back.spec_json == record.spec_json);
  CHECK(back.snapshot_key == "web-0");
}

TEST_CASE("containerd grpc: every event filter is narrowed to the client's namespace") {
  CHECK(NamespacedEventFilters({}, "zlayer") == std::vector<std::string>{R"(namespace=="zlayer")"});
  CHECK(NamespacedEventFilters({R"(topic=="/tasks/exit")", R"(topic=="/tasks/oom")"}, "zlayer") ==
        std::vector<std::string>{R"(topic=="/tasks/exit",namespace=="zlayer")",
                                 R"(topic=="/tasks/oom",namespace=="zlayer")",
                                 R"(topic=="/zlayer/subscribed",namespace=="zlayer")"});
}

TEST_CASE("containerd grpc: a blob's deadline grows with its size") {
  using std::chrono::milliseconds;
  CHECK(TimeoutForBytes(milliseconds(30000), 0, 1 << 20) == milliseconds(30000));
  CHECK(TimeoutForBytes(milliseconds(30000), 10 << 20, 1 << 20) == milliseconds(40000));
  CHECK(TimeoutForBytes(milliseconds(1000), 512 << 10, 1 << 20) == milliseconds(1500));
}

}  // namespace
}  // namespace zlayer::containerd
