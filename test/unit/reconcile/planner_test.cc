#include "agent/reconcile/planner.h"

#include <catch2/catch.hpp>
#include <csignal>

#include "agent/spec/naming.h"

using namespace zlayer;
using namespace zlayer::reconcile;
using containerd::TaskStatus;
using spec::kLabelDeployment;
using spec::kLabelReplica;
using spec::kLabelService;
using spec::kLabelSpecHash;

namespace {

DesiredDeployment Deployment(const std::string& name, uint32_t web_replicas,
                             const std::string& hash = "h1") {
  DesiredDeployment d;
  d.generation = 1;
  d.spec.name = name;
  spec::Service web;
  web.name = "web";
  web.image.name = "busybox";
  web.scale.replicas = web_replicas;
  d.spec.services["web"] = web;
  d.service_hashes["web"] = hash;
  return d;
}

ObservedContainer Running(const std::string& id, const std::string& deployment, uint32_t replica,
                          const std::string& hash = "h1") {
  ObservedContainer c;
  c.id = id;
  c.deployment = deployment;
  c.service = "web";
  c.replica = replica;
  c.spec_hash = hash;
  c.has_task = true;
  c.task_status = TaskStatus::kRunning;
  c.pid = 100 + static_cast<pid_t>(replica);
  return c;
}

std::vector<std::pair<ActionKind, std::string>> Kinds(const Plan& plan) {
  std::vector<std::pair<ActionKind, std::string>> out;
  for (const Action& a : plan.actions) out.emplace_back(a.kind, a.container_id);
  return out;
}

const SteadyTime kNow = SteadyTime{} + std::chrono::hours(1);

}  // namespace

TEST_CASE("Given a new deployment with two replicas, the planner creates both") {
  auto plan = PlanActions({{"app", Deployment("app", 2)}}, {}, {}, {}, kNow);
  CHECK(Kinds(plan) == std::vector<std::pair<ActionKind, std::string>>{
                           {ActionKind::kCreate, "app-web-0"}, {ActionKind::kCreate, "app-web-1"}});
}

TEST_CASE("Given every replica running with the current spec, the planner does nothing") {
  auto plan = PlanActions({{"app", Deployment("app", 2)}},
                          {{"app-web-0", Running("app-web-0", "app", 0)},
                           {"app-web-1", Running("app-web-1", "app", 1)}},
                          {}, {}, kNow);
  CHECK(plan.actions.empty());
  CHECK_FALSE(plan.wake_at);
}

TEST_CASE(
    "A replica from an older spec gets its replacement beside it when replicas can run side by "
    "side") {
  auto plan = PlanActions({{"app", Deployment("app", 1, "h2")}},
                          {{"app-web-0", Running("app-web-0", "app", 0, "h1")}}, {}, {}, kNow);
  CHECK(Kinds(plan) ==
        std::vector<std::pair<ActionKind, std::string>>{{ActionKind::kCreate, "app-web-0-g1"}});
}

TEST_CASE("A replica whose host port would collide with its replacement is replaced stop-first") {
  auto desired = Deployment("app", 1, "h2");
  spec::Endpoint http;
  http.name = "http";
  http.port = 8080;
  http.target_port = 8080;
  desired.spec.services["web"].endpoints.push_back(http);
  desired.spec.services["web"].network_mode = spec::NetworkMode::kHost;
  CHECK(ChooseUpdateStrategy(desired.spec.services["web"]).reason ==
        "host port 8080 would collide");
  auto plan = PlanActions({{"app", desired}}, {{"app-web-0", Running("app-web-0", "app", 0, "h1")}},
                          {}, {}, kNow);
  CHECK(Kinds(plan) ==
        std::vector<std::pair<ActionKind, std::string>>{{ActionKind::kReplace, "app-web-0"}});
}

TEST_CASE("A service with an endpoint on its own network is updated start-first, beside the old") {
  auto desired = Deployment("app", 1, "h2");
  spec::Endpoint http;
  http.name = "http";
  http.port = 8080;
  http.target_port = 8080;
  desired.spec.services["web"].endpoints.push_back(http);
  desired.spec.services["web"].network_mode = spec::NetworkMode::kDefault;
  CHECK(ChooseUpdateStrategy(desired.spec.services["web"]).strategy == UpdateStrategy::kRolling);
  auto plan = PlanActions({{"app", desired}}, {{"app-web-0", Running("app-web-0", "app", 0, "h1")}},
                          {}, {}, kNow);
  CHECK(Kinds(plan) ==
        std::vector<std::pair<ActionKind, std::string>>{{ActionKind::kCreate, "app-web-0-g1"}});
}

TEST_CASE("A rolling update replaces one replica at a time") {
  auto plan = PlanActions({{"app", Deployment("app", 2, "h2")}},
                          {{"app-web-0", Running("app-web-0", "app", 0, "h1")},
                           {"app-web-1", Running("app-web-1", "app", 1, "h1")}},
                          {}, {}, kNow);
  CHECK(Kinds(plan) ==
        std::vector<std::pair<ActionKind, std::string>>{{ActionKind::kCreate, "app-web-0-g1"}});
}

TEST_CASE(
    "While a replacement is not healthy yet, the old replica stays and no other slot is rolled") {
  std::map<std::string, ReplicaMemory> memory;
  memory["app-web-0-g1"].health_ok = false;
  auto plan = PlanActions({{"app", Deployment("app", 2, "h2")}},
                          {{"app-web-0", Running("app-web-0", "app", 0, "h1")},
                           {"app-web-0-g1", Running("app-web-0-g1", "app", 0, "h2")},
                           {"app-web-1", Running("app-web-1", "app", 1, "h1")}},
                          memory, {}, kNow);
  CHECK(plan.actions.empty());
}

TEST_CASE("Once the replacement is ready, the old replica of its slot is removed") {
  auto plan = PlanActions({{"app", Deployment("app", 2, "h2")}},
                          {{"app-web-0", Running("app-web-0", "app", 0, "h1")},
                           {"app-web-0-g1", Running("app-web-0-g1", "app", 0, "h2")},
                           {"app-web-1", Running("app-web-1", "app", 1, "h1")}},
                          {}, {}, kNow);
  CHECK(Kinds(plan) ==
        std::vector<std::pair<ActionKind, std::string>>{{ActionKind::kRemove, "app-web-0"}});
}

TEST_CASE(
    "A stopped rollout removes the replacement that never became ready and keeps the old replica") {
  std::map<std::string, ReplicaMemory> memory;
  memory["app-web-0-g1"].health_ok = false;
  std::map<std::string, ServiceGate> gates;
  gates["app/web"].stopped_rollout_hash = "h2";
  auto plan = PlanActions({{"app", Deployment("app", 2, "h2")}},
                          {{"app-web-0", Running("app-web-0", "app", 0, "h1")},
                           {"app-web-0-g1", Running("app-web-0-g1", "app", 0, "h2")},
                           {"app-web-1", Running("app-web-1", "app", 1, "h1")}},
                          memory, {}, kNow, gates);
  CHECK(Kinds(plan) ==
        std::vector<std::pair<ActionKind, std::string>>{{ActionKind::kRemove, "app-web-0-g1"}});
}

TEST_CASE("A service whose dependencies are not met gets no replicas") {
  std::map<std::string, ServiceGate> gates;
  gates["app/web"].blocked = true;
  auto plan = PlanActions({{"app", Deployment("app", 2)}}, {}, {}, {}, kNow, gates);
  CHECK(plan.actions.empty());
}

TEST_CASE("Scaling down removes the highest replica index first") {
  auto plan = PlanActions({{"app", Deployment("app", 0)}},
                          {{"app-web-0", Running("app-web-0", "app", 0)},
                           {"app-web-1", Running("app-web-1", "app", 1)},
                           {"app-web-10", Running("app-web-10", "app", 10)},
                           {"app-web-2", Running("app-web-2", "app", 2)}},
                          {}, {}, kNow);
  CHECK(Kinds(plan) ==
        std::vector<std::pair<ActionKind, std::string>>{{ActionKind::kRemove, "app-web-10"},
                                                        {ActionKind::kRemove, "app-web-2"},
                                                        {ActionKind::kRemove, "app-web-1"},
                                                        {ActionKind::kRemove, "app-web-0"}});
}

TEST_CASE("Scaling down removes the replicas above the new count") {
  auto plan = PlanActions({{"app", Deployment("app", 1)}},
                          {{"app-web-0", Running("app-web-0", "app", 0)},
                           {"app-web-1", Running("app-web-1", "app", 1)}},
                          {}, {}, kNow);
  CHECK(Kinds(plan) ==
        std::vector<std::pair<ActionKind, std::string>>{{ActionKind::kRemove, "app-web-1"}});
}

TEST_CASE("Containers of a deployment nobody wants any more are removed") {
  auto plan = PlanActions({}, {{"old-web-0", Running("old-web-0", "old", 0)}}, {}, {}, kNow);
  CHECK(Kinds(plan) ==
        std::vector<std::pair<ActionKind, std::string>>{{ActionKind::kRemove, "old-web-0"}});
}

TEST_CASE("A replica with an action in flight gets no second action") {
  auto plan =
      PlanActions({{"app", Deployment("app", 1)}}, {{"old-web-0", Running("old-web-0", "old", 0)}},
                  {}, {"app-web-0", "old-web-0"}, kNow);
  CHECK(plan.actions.empty());
}

TEST_CASE("A stopped replica is started again once its back-off has passed") {
  auto stopped = Running("app-web-0", "app", 0);
  stopped.task_status = TaskStatus::kStopped;
  ReplicaMemory waiting;
  waiting.restart_not_before = kNow + std::chrono::seconds(2);

  auto during = PlanActions({{"app", Deployment("app", 1)}}, {{"app-web-0", stopped}},
                            {{"app-web-0", waiting}}, {}, kNow);
  CHECK(during.actions.empty());
  REQUIRE(during.wake_at);
  CHECK(*during.wake_at == kNow + std::chrono::seconds(2));

  auto after = PlanActions({{"app", Deployment("app", 1)}}, {{"app-web-0", stopped}},
                           {{"app-web-0", waiting}}, {}, kNow + std::chrono::seconds(3));
  CHECK(Kinds(after) ==
        std::vector<std::pair<ActionKind, std::string>>{{ActionKind::kStart, "app-web-0"}});
}

TEST_CASE("A replica that exited for good is left alone") {
  auto stopped = Running("app-web-0", "app", 0);
  stopped.task_status = TaskStatus::kStopped;
  ReplicaMemory done;
  done.exited_for_good = true;
  auto plan = PlanActions({{"app", Deployment("app", 1)}}, {{"app-web-0", stopped}},
                          {{"app-web-0", done}}, {}, kNow);
  CHECK(plan.actions.empty());
}

TEST_CASE("A container without our labels is not ours to observe") {
  containerd::ContainerRecord foreign;
  foreign.id = "someone-elses";
  CHECK_FALSE(Observe(foreign, std::nullopt));

  containerd::ContainerRecord ours;
  ours.id = "app-web-3";
  ours.labels = {{kLabelDeployment, "app"},
                 {kLabelService, "web"},
                 {kLabelReplica, "3"},
                 {kLabelSpecHash, "abc"}};
  containerd::TaskInfo task;
  task.status = TaskStatus::kRunning;
  task.pid = 42;
  auto observed = Observe(ours, task);
  REQUIRE(observed);
  CHECK(observed->replica == 3);
  CHECK(observed->spec_hash == "abc");
  CHECK(observed->pid == 42);
}

TEST_CASE("Observing a container reads the stop signal it was created with") {
  containerd::ContainerRecord ours;
  ours.id = "app-web-0";
  ours.labels = {{kLabelDeployment, "app"},
                 {kLabelService, "web"},
                 {kLabelReplica, "0"},
                 {containerd::kLabelStopSignal, "SIGQUIT"}};
  auto observed = Observe(ours, std::nullopt);
  REQUIRE(observed);
  CHECK(observed->recorded_stop_signal == SIGQUIT);
  ours.labels.erase(containerd::kLabelStopSignal);
  CHECK(Observe(ours, std::nullopt)->recorded_stop_signal == std::nullopt);
}

TEST_CASE("A replica whose create failed for good is not created again") {
  ReplicaMemory failed;
  failed.exited_for_good = true;
  auto plan = PlanActions({{"app", Deployment("app", 2)}}, {}, {{"app-web-0", failed}}, {}, kNow);
  CHECK(Kinds(plan) ==
        std::vector<std::pair<ActionKind, std::string>>{{ActionKind::kCreate, "app-web-1"}});
}

TEST_CASE("A replica whose create failed is created again only once its back-off ends") {
  ReplicaMemory backing_off;
  backing_off.restart_not_before = kNow + std::chrono::seconds(2);
  auto plan =
      PlanActions({{"app", Deployment("app", 1)}}, {}, {{"app-web-0", backing_off}}, {}, kNow);
  CHECK(plan.actions.empty());
  CHECK(plan.wake_at == kNow + std::chrono::seconds(2));
  auto later = PlanActions({{"app", Deployment("app", 1)}}, {}, {{"app-web-0", backing_off}}, {},
                           kNow + std::chrono::seconds(2));
  CHECK(Kinds(later) ==
        std::vector<std::pair<ActionKind, std::string>>{{ActionKind::kCreate, "app-web-0"}});
}
