// Proves the generated code builds, links and behaves as the containerd client and the
// API adapter will use it. No client or server logic lives here.
#include <google/protobuf/any.pb.h>
#include <google/protobuf/util/json_util.h>

#include <catch2/catch.hpp>
#include <string>

#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb.h"
#include "zlayer/v1/agent.grpc.pb.h"

namespace {

namespace tasks = containerd::services::tasks::v1;

TEST_CASE("A containerd CreateTaskRequest can be built with rootfs mounts and FIFO paths") {
  tasks::CreateTaskRequest request;
  request.set_container_id("hello-web-0");
  auto* mount = request.add_rootfs();
  mount->set_type("overlay");
  mount->set_source("overlay");
  mount->add_options("lowerdir=/a:/b");
  request.set_stdout("/run/containerd/fifo/x/hello-web-0-stdout");
  request.set_terminal(false);

  tasks::CreateTaskRequest parsed;
  REQUIRE(parsed.ParseFromString(request.SerializeAsString()));
  CHECK(parsed.container_id() == "hello-web-0");
  REQUIRE(parsed.rootfs_size() == 1);
  CHECK(parsed.rootfs(0).options(0) == "lowerdir=/a:/b");
  CHECK(tasks::Tasks::service_full_name() == std::string("containerd.services.tasks.v1.Tasks"));
}

TEST_CASE("A TaskExit event survives serialization the way the event stream carries it") {
  containerd::events::TaskExit exit;
  exit.set_container_id("hello-web-0");
  exit.set_id("hello-web-0");
  exit.set_pid(4242);
  exit.set_exit_status(137);
  exit.mutable_exited_at()->set_seconds(1700000000);

  // The event stream wraps events in an Any whose type_url is the bare message name.
  google::protobuf::Any any;
  any.set_type_url("containerd.events.TaskExit");
  any.set_value(exit.SerializeAsString());
  CHECK(any.type_url() == containerd::events::TaskExit::descriptor()->full_name());

  containerd::events::TaskExit parsed;
  REQUIRE(parsed.ParseFromString(any.value()));
  CHECK(parsed.container_id() == "hello-web-0");
  CHECK(parsed.pid() == 4242);
  CHECK(parsed.exit_status() == 137);
  CHECK(parsed.exited_at().seconds() == 1700000000);
}

TEST_CASE("runc Options are packed into an Any with containerd's bare type URL") {
  containerd::runc::v1::Options options;
  options.set_binary_name("runc");
  options.set_systemd_cgroup(false);

  // PackFrom would write "type.googleapis.com/...", which containerd cannot resolve.
  google::protobuf::Any any;
  any.set_type_url("containerd.runc.v1.Options");
  any.set_value(options.SerializeAsString());

  tasks::CreateTaskRequest request;
  *request.mutable_options() = any;
  CHECK(request.options().type_url() == "containerd.runc.v1.Options");

  containerd::runc::v1::Options parsed;
  REQUIRE(parsed.ParseFromString(request.options().value()));
  CHECK(parsed.binary_name() == "runc");
}

TEST_CASE("A zlayer.v1 ListResponse round-trips through JSON for `-o json`") {
  zlayer::v1::ListResponse response;
  auto* deployment = response.add_deployments();
  deployment->set_name("hello");
  deployment->set_generation(3);
  deployment->set_phase(zlayer::v1::Deployment::PHASE_CONVERGED);
  auto* service = deployment->add_services();
  service->set_name("web");
  auto* replica = service->add_replicas();
  replica->set_container_id("hello-web-0");
  replica->set_state(zlayer::v1::Replica::STATE_BACKOFF);
  replica->set_restart_count(2);
  replica->mutable_last_exit()->set_reason("OOMKilled");
  replica->mutable_uptime()->set_seconds(90);

  std::string json;
  REQUIRE(google::protobuf::util::MessageToJsonString(response, &json).ok());
  CHECK(json.find("\"containerId\":\"hello-web-0\"") != std::string::npos);
  CHECK(json.find("\"state\":\"STATE_BACKOFF\"") != std::string::npos);
  CHECK(json.find("\"uptime\":\"90s\"") != std::string::npos);

  zlayer::v1::ListResponse parsed;
  REQUIRE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok());
  CHECK(parsed.SerializeAsString() == response.SerializeAsString());
}

TEST_CASE("LogsRequest tells an unset tail from a tail of zero") {
  zlayer::v1::LogsRequest request;
  CHECK_FALSE(request.has_tail());
  request.set_tail(0);
  CHECK(request.has_tail());
}

}  // namespace
