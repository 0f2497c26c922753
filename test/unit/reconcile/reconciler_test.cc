#include "agent/reconcile/reconciler.h"

#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>
#include <mutex>

using namespace std::chrono_literals;
using namespace zlayer;
using namespace zlayer::reconcile;
using containerd::TaskStatus;

namespace {

// containerd as a map, with a record of every call. Called from the worker
// pool, so it locks.
class FakeOperations : public ReplicaOperations {
 public:
  Result<std::vector<ObservedContainer>> ObserveAll() override {
    std::lock_guard lock(mu_);
    std::vector<ObservedContainer> out;
    for (auto& [id, c] : containers_) out.push_back(c);
    return out;
  }
  Status Create(const std::string& id, const spec::Deployment& d, const spec::Service& s,
                uint32_t replica, const std::string& hash) override {
    std::lock_guard lock(mu_);
    calls_.push_back("create " + id);
    ObservedContainer c;
    c.id = id;
    c.deployment = d.name;
    c.service = s.name;
    c.replica = replica;
    c.spec_hash = hash;
    containers_[id] = c;
    return Status::Ok();
  }
  Result<pid_t> Start(const std::string& id) override {
    std::lock_guard lock(mu_);
    calls_.push_back("start " + id);
    ObservedContainer& c = containers_.at(id);
    c.has_task = true;
    c.task_status = TaskStatus::kRunning;
    c.pid = next_pid_++;
    return c.pid;
  }
  Status Stop(const std::string& id, int, std::chrono::nanoseconds) override {
    std::lock_guard lock(mu_);
    calls_.push_back("stop " + id);
    auto it = containers_.find(id);
    if (it != containers_.end()) {
      it->second.has_task = false;
      it->second.pid = 0;
    }
    return Status::Ok();
  }
  Status Remove(const std::string& id) override {
    std::lock_guard lock(mu_);
    calls_.push_back("remove " + id);
    containers_.erase(id);
    return Status::Ok();
  }

  // The task of `id` exits; returns its pid.
  pid_t Exit(const std::string& id) {
    std::lock_guard lock(mu_);
    ObservedContainer& c = containers_.at(id);
    c.task_status = TaskStatus::kStopped;
    return c.pid;
  }
  void Put(ObservedContainer c) {
    std::lock_guard lock(mu_);
    containers_[c.id] = c;
  }
  std::vector<std::string> Calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  size_t Count(const std::string& call) {
    auto calls = Calls();
    return static_cast<size_t>(std::count(calls.begin(), calls.end(), call));
  }

 private:
  std::mutex mu_;
  std::map<std::string, ObservedContainer> containers_;
  std::vector<std::string> calls_;
  pid_t next_pid_ = 1000;
};

class FakeOutput : public OutputAttacher {
 public:
  Status Attach(const std::string& id) override {
    attached.insert(id);
    return Status::Ok();
  }
  void Detach(const std::string& id, bool) override { attached.erase(id); }
  std::set<std::string> attached;
};

DesiredDeployment App(uint32_t replicas, spec::RestartKind kind = spec::RestartKind::kAlways) {
  DesiredDeployment d;
  d.generation = 1;
  d.spec.name = "app";
  spec::Service web;
  web.name = "web";
  web.image.name = "busybox";
  web.scale.replicas = replicas;
  web.restart_policy.kind = kind;
  web.restart_policy.delay = 10ms;
  web.stop_grace_period = 1s;
  d.spec.services["web"] = web;
  d.service_hashes["web"] = "h1";
  return d;
}

struct Harness {
  boost::asio::io_context loop;
  boost::asio::thread_pool workers{2};
  FakeOperations ops;
  FakeOutput output;
  Logger log{"test", LogLevel::kError};
  Reconciler reconciler{loop, workers, ops, output, log, 1h};

  ~Harness() {
    workers.join();
  }

  template <typename Pred>
  bool RunUntil(Pred pred, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      loop.restart();
      loop.run_for(5ms);
    }
    return pred();
  }

  std::string StateOf(const std::string& id) {
    for (const auto& d : reconciler.Deployments()) {
      for (const auto& r : d.replicas) {
        if (r.id == id) return r.state;
      }
    }
    return "";
  }

  void StartWith(std::vector<DesiredDeployment> loaded) {
    bool started = false;
    reconciler.Start(std::move(loaded), [&](Status s) {
      REQUIRE(s.ok());
      started = true;
    });
    REQUIRE(RunUntil([&] { return started; }));
  }
};

}  // namespace

TEST_CASE("Given a deployment of two replicas, the reconciler creates and starts both") {
  Harness h;
  h.StartWith({App(2)});
  bool converged = false;
  h.reconciler.WaitConverged("app", 1, [&](Status s) { converged = s.ok(); });
  REQUIRE(h.RunUntil([&] { return converged; }));
  CHECK(h.ops.Count("create app-web-0") == 1);
  CHECK(h.ops.Count("start app-web-1") == 1);
  CHECK(h.output.attached == std::set<std::string>{"app-web-0", "app-web-1"});
  CHECK(h.StateOf("app-web-0") == "running");
}

TEST_CASE("A replica whose task exits is started again after its back-off") {
  Harness h;
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == "running"; }));
  pid_t pid = h.ops.Exit("app-web-0");
  h.reconciler.OnTaskExit("app-web-0", pid, 1, std::chrono::system_clock::now());
  CHECK(h.StateOf("app-web-0") == "backoff");
  REQUIRE(h.RunUntil([&] { return h.ops.Count("start app-web-0") == 2; }));
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == "running"; }));
  auto views = h.reconciler.Deployments();
  CHECK(views[0].replicas[0].restarts == 1);
  CHECK(views[0].replicas[0].exit_status == 1u);
}

TEST_CASE("With restart policy no, an exited replica stays exited and the deployment counts as settled") {
  Harness h;
  h.StartWith({App(1, spec::RestartKind::kNo)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == "running"; }));
  pid_t pid = h.ops.Exit("app-web-0");
  h.reconciler.OnTaskExit("app-web-0", pid, 3, std::chrono::system_clock::now());
  h.RunUntil([] { return false; }, 100ms);
  CHECK(h.ops.Count("start app-web-0") == 1);
  CHECK(h.StateOf("app-web-0") == "failed");
}

TEST_CASE("An exit event of an older task does not count against the current one") {
  Harness h;
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == "running"; }));
  h.reconciler.OnTaskExit("app-web-0", /*pid=*/1, 1, std::chrono::system_clock::now());
  CHECK(h.StateOf("app-web-0") == "running");
}

TEST_CASE("Deleting a deployment stops and removes its containers before it reports done") {
  Harness h;
  h.StartWith({App(2)});
  REQUIRE(h.RunUntil([&] { return h.ops.Count("start app-web-1") == 1; }));
  bool deleted = false;
  h.reconciler.Delete("app", [&](Status s) { deleted = s.ok(); });
  REQUIRE(h.RunUntil([&] { return deleted; }));
  CHECK(h.ops.Count("stop app-web-0") == 1);
  CHECK(h.ops.Count("remove app-web-1") == 1);
  CHECK(h.output.attached.empty());
  CHECK(h.reconciler.Deployments().empty());
}

TEST_CASE("After an agent restart, running containers are adopted and not restarted") {
  Harness h;
  ObservedContainer running;
  running.id = "app-web-0";
  running.deployment = "app";
  running.service = "web";
  running.spec_hash = "h1";
  running.has_task = true;
  running.task_status = TaskStatus::kRunning;
  running.pid = 77;
  h.ops.Put(running);
  h.StartWith({App(1)});
  h.RunUntil([] { return false; }, 100ms);
  CHECK(h.ops.Calls().empty());
  CHECK(h.output.attached == std::set<std::string>{"app-web-0"});
  CHECK(h.StateOf("app-web-0") == "running");
}

TEST_CASE("Scaling down through a new generation removes only the surplus replica") {
  Harness h;
  h.StartWith({App(2)});
  REQUIRE(h.RunUntil([&] { return h.ops.Count("start app-web-1") == 1; }));
  auto smaller = App(1);
  smaller.generation = 2;
  h.reconciler.Apply(smaller);
  bool converged = false;
  h.reconciler.WaitConverged("app", 2, [&](Status s) { converged = s.ok(); });
  REQUIRE(h.RunUntil([&] { return converged; }));
  CHECK(h.ops.Count("remove app-web-1") == 1);
  CHECK(h.ops.Count("remove app-web-0") == 0);
}
