#include "agent/reconcile/reconciler.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>
#include <csignal>
#include <deque>
#include <mutex>
#include <set>

#include "test/support/manual_clock.h"
#include "test/support/network/fake_replica_network.h"

using namespace std::chrono_literals;
using namespace zlayer;
using namespace zlayer::reconcile;
using containerd::TaskStatus;

namespace {

// containerd as a map, with a record of every call. Called from the pools,
// so it locks. A task exits when it gets a signal (unless told to ignore
// signals other than SIGKILL), and its exit is reported through `on_exit`
// as containerd's event would be.
class FakeOperations : public ReplicaOperations {
 public:
  using OnExit = std::function<void(const std::string& id, pid_t pid, uint32_t status)>;

  Result<std::optional<PreparedImage>> LocalImage(const spec::Service& s) override {
    std::lock_guard lock(mu_);
    if (ready_images_.count(s.image.name) == 0) return std::optional<PreparedImage>();
    return std::optional(PreparedImage{s.image.name, "", {}, ""});
  }
  Result<PreparedImage> PrepareImage(const spec::Service& s) override {
    std::lock_guard lock(mu_);
    calls_.push_back("prepare " + s.image.name);
    return PreparedImage{s.image.name, "", {}, ""};
  }
  Result<std::vector<ObservedContainer>> ObserveAll() override {
    std::lock_guard lock(mu_);
    std::vector<ObservedContainer> out;
    for (auto& [id, c] : containers_) out.push_back(c);
    return out;
  }
  Result<ObservedContainer> Create(const std::string& id, const spec::Deployment& d,
                                   const spec::Service& s, uint32_t replica,
                                   const std::string& hash, const PreparedImage&,
                                   const AttachedNetwork& network) override {
    std::lock_guard lock(mu_);
    calls_.push_back("create " + id);
    if (!create_failures_.empty()) {
      Status failure = create_failures_.front();
      create_failures_.pop_front();
      return failure;
    }
    ObservedContainer c;
    c.id = id;
    c.deployment = d.name;
    c.service = s.name;
    c.replica = replica;
    c.spec_hash = hash;
    c.recorded_stop_signal = image_stop_signal_;
    containers_[id] = c;
    created_in_[id] = network;
    return c;
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
  Status Signal(const std::string& id, int signal, bool) override {
    OnExit on_exit;
    pid_t pid = 0;
    {
      std::lock_guard lock(mu_);
      calls_.push_back(signal == SIGKILL ? "kill " + id : "stop " + id);
      if (signal != SIGKILL) stop_signals_[id] = signal;
      auto it = containers_.find(id);
      if (it == containers_.end() || !it->second.has_task ||
          it->second.task_status != TaskStatus::kRunning) {
        return NotFoundError("task " + id + ": not found");
      }
      if (signal != SIGKILL && ignores_signals_.count(id)) return Status::Ok();
      if (unkillable_.count(id)) return Status::Ok();
      it->second.task_status = TaskStatus::kStopped;
      pid = it->second.pid;
      on_exit = on_exit_;
    }
    if (on_exit) on_exit(id, pid, 128 + signal);
    return Status::Ok();
  }
  Result<bool> TaskRunning(const std::string& id) override {
    std::lock_guard lock(mu_);
    calls_.push_back("check " + id);
    auto it = containers_.find(id);
    return it != containers_.end() && it->second.has_task &&
           it->second.task_status == TaskStatus::kRunning;
  }
  Status DeleteTask(const std::string& id) override {
    std::lock_guard lock(mu_);
    calls_.push_back("delete task " + id);
    auto it = containers_.find(id);
    if (it == containers_.end() || !it->second.has_task) return Status::Ok();
    if (it->second.task_status == TaskStatus::kRunning) {
      return Status(StatusCode::kFailedPrecondition, "task " + id + " is running");
    }
    it->second.has_task = false;
    it->second.pid = 0;
    return Status::Ok();
  }
  Status Remove(const std::string& id) override {
    std::lock_guard lock(mu_);
    calls_.push_back("remove " + id);
    auto it = containers_.find(id);
    if (it != containers_.end() && it->second.has_task) {
      return Status(StatusCode::kFailedPrecondition, "container " + id + " has a task");
    }
    containers_.erase(id);
    return Status::Ok();
  }
  Result<int> RemoveLeftovers() override { return 0; }

  // `image` is on the node: creates of it need no PrepareImage.
  void SetImageReady(const std::string& image) {
    std::lock_guard lock(mu_);
    ready_images_.insert(image);
  }
  // Where exits go (the harness posts them to the loop, as the agent does).
  void SetOnExit(OnExit on_exit) {
    std::lock_guard lock(mu_);
    on_exit_ = std::move(on_exit);
  }
  // The task of `id` ignores every signal but SIGKILL.
  void IgnoreSignals(const std::string& id) {
    std::lock_guard lock(mu_);
    ignores_signals_.insert(id);
  }
  // The task of `id` survives even SIGKILL (a process stuck in the kernel).
  void Unkillable(const std::string& id) {
    std::lock_guard lock(mu_);
    ignores_signals_.insert(id);
    unkillable_.insert(id);
  }
  bool HasTask(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = containers_.find(id);
    return it != containers_.end() && it->second.has_task;
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
  // Containers created from now on record `signal` as their image's STOPSIGNAL.
  void SetImageStopSignal(std::optional<int> signal) {
    std::lock_guard lock(mu_);
    image_stop_signal_ = signal;
  }
  // The next Create calls fail with these, in order.
  void FailCreates(std::vector<Status> failures) {
    std::lock_guard lock(mu_);
    create_failures_.assign(failures.begin(), failures.end());
  }
  // The network the Create of `id` was given.
  AttachedNetwork CreatedIn(const std::string& id) {
    std::lock_guard lock(mu_);
    return created_in_.at(id);
  }
  // The signal the last Stop of `id` sent; 0 when none.
  int StopSignalOf(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = stop_signals_.find(id);
    return it == stop_signals_.end() ? 0 : it->second;
  }
  std::vector<std::string> Calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  // Where `call` is in Calls(); -1 when it is not.
  int IndexOf(const std::string& call) {
    auto calls = Calls();
    auto it = std::find(calls.begin(), calls.end(), call);
    return it == calls.end() ? -1 : static_cast<int>(it - calls.begin());
  }
  size_t Count(const std::string& call) {
    auto calls = Calls();
    return static_cast<size_t>(std::count(calls.begin(), calls.end(), call));
  }

 private:
  std::mutex mu_;
  std::map<std::string, ObservedContainer> containers_;
  std::vector<std::string> calls_;
  std::map<std::string, int> stop_signals_;
  std::optional<int> image_stop_signal_;
  std::deque<Status> create_failures_;
  std::map<std::string, AttachedNetwork> created_in_;  // the network each Create got
  std::set<std::string> ignores_signals_;
  std::set<std::string> unkillable_;
  std::set<std::string> ready_images_;
  OnExit on_exit_;
  pid_t next_pid_ = 1000;
};

class FakeOutput : public OutputAttacher {
 public:
  void Attach(const std::string& id, std::function<void(Status)> done) override {
    attached.insert(id);
    done(Status::Ok());
  }
  void Detach(const std::string& id, bool) override { attached.erase(id); }
  std::set<std::string> attached;
};

// Health checks driven by the test: Report() delivers a verdict.
class FakeHealth : public HealthWatcher {
 public:
  void Watch(const std::string& id, const std::string& address, const spec::Health&,
             OnChange on_change) override {
    watched[id] = std::move(on_change);
    aimed_at[id] = address;
  }
  void Unwatch(const std::string& id) override { watched.erase(id); }
  std::vector<HealthCheckRecord> History(const std::string&) const override { return {}; }
  bool Report(const std::string& id, Verdict verdict, const std::string& output = "") {
    auto it = watched.find(id);
    if (it == watched.end()) return false;
    auto callback = it->second;
    callback(verdict, output);
    return true;
  }
  std::map<std::string, OnChange> watched;
  std::map<std::string, std::string> aimed_at;  // the address each watch was given
};

spec::Health CommandCheck() {
  spec::Health health;
  health.check.type = spec::HealthCheckType::kCommand;
  health.check.command = {"true"};
  return health;
}

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

// How the second replica's task answers its stop signal (ScaleDownFromTwo).
enum class StopAnswer { kExits, kIgnores };

// The reconciler on a loop run by the test's thread, in virtual time: nothing
// here sleeps. Work on the pools is real, and the loop counts it as pending
// until its result is back (RunOff), so "settled" means nothing is left to do.
struct Harness {
  boost::asio::io_context loop;
  boost::asio::thread_pool lifecycle{2};
  boost::asio::thread_pool images{1};
  testing::ManualClock clock{loop};
  FakeOperations ops;
  FakeOutput output;
  Logger log{"test", LogLevel::kError};
  FakeHealth health;
  testing::FakeReplicaNetwork network;
  Reconciler reconciler{loop,   lifecycle, images,  clock, ops,
                        output, health,    network, log,   Options()};

  static Reconciler::Options Options() {
    Reconciler::Options options;
    options.resync_interval = 1h;
    options.kill_wait = 10s;
    return options;
  }

  Harness() {
    // Exits reach the reconciler on the loop, as containerd's events do in the agent.
    ops.SetOnExit([this](const std::string& id, pid_t pid, uint32_t status) {
      boost::asio::post(loop, [this, id, pid, status] {
        reconciler.OnTaskExit(id, pid, status, clock.WallNow());
      });
    });
  }
  ~Harness() {
    lifecycle.join();
    images.join();
  }

  // Runs what is due, moving virtual time from alarm to alarm, until `pred`
  // holds; false when it does not within `limit` of virtual time.
  template <typename Pred>
  bool RunUntil(Pred pred, std::chrono::nanoseconds limit = 1min) {
    return clock.AdvanceUntil(pred, limit);
  }
  // Lets `how_long` of virtual time pass, running everything that falls due.
  void Wait(std::chrono::nanoseconds how_long) { clock.Advance(how_long); }
  // Virtual time since the harness was made.
  std::chrono::nanoseconds Now() const { return clock.Elapsed(); }

  const ReplicaView* View(const std::string& id) {
    views_ = reconciler.Deployments();
    for (const auto& d : views_) {
      for (const auto& r : d.replicas) {
        if (r.id == id) return &r;
      }
    }
    return nullptr;
  }
  std::vector<DeploymentView> views_;

  std::optional<ReplicaState> StateOf(const std::string& id) {
    for (const auto& d : reconciler.Deployments()) {
      for (const auto& r : d.replicas) {
        if (r.id == id) return r.state;
      }
    }
    return std::nullopt;
  }

  void StartWith(std::vector<DesiredDeployment> loaded) {
    bool started = false;
    reconciler.Start(std::move(loaded), [&](Status s) {
      REQUIRE(s.ok());
      started = true;
    });
    REQUIRE(RunUntil([&] { return started; }));
  }

  // Runs `app` with two replicas and the stop grace period `grace`, then
  // applies generation 2 with one: app-web-1 is being stopped on return, by a
  // stop signal that its task answers as `answer` says.
  void ScaleDownFromTwo(std::chrono::nanoseconds grace, StopAnswer answer) {
    auto app = App(2);
    app.spec.services["web"].stop_grace_period = grace;
    StartWith({app});
    REQUIRE(RunUntil([&] { return ops.Count("start app-web-1") == 1; }));
    if (answer == StopAnswer::kIgnores) ops.IgnoreSignals("app-web-1");
    auto smaller = app;
    smaller.generation = 2;
    smaller.spec.services["web"].scale.replicas = 1;
    reconciler.Apply(smaller);
  }
};

// app-web-0 of App() running with generation 1's spec: what an agent restart finds.
ObservedContainer RunningAppWeb0() {
  ObservedContainer running;
  running.id = "app-web-0";
  running.deployment = "app";
  running.service = "web";
  running.spec_hash = "h1";
  running.has_task = true;
  running.task_status = TaskStatus::kRunning;
  running.pid = 77;
  return running;
}

// `app` with a second service, db (with a health check that the test answers),
// on which web depends as `on_db` says.
DesiredDeployment AppWithDb(spec::Dependency on_db) {
  auto app = App(1);
  spec::Service db = app.spec.services["web"];
  db.name = "db";
  db.health = CommandCheck();
  app.spec.services["db"] = db;
  app.service_hashes["db"] = "d1";
  on_db.service = "db";
  app.spec.services["web"].depends.push_back(on_db);
  return app;
}

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
  CHECK(h.StateOf("app-web-0") == ReplicaState::kRunning);
}

TEST_CASE("A replica whose task exits is started again after its back-off") {
  Harness h;
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  pid_t pid = h.ops.Exit("app-web-0");
  h.reconciler.OnTaskExit("app-web-0", pid, 1, h.clock.WallNow());
  CHECK(h.StateOf("app-web-0") == ReplicaState::kBackoff);
  REQUIRE(h.RunUntil([&] { return h.ops.Count("start app-web-0") == 2; }));
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  auto views = h.reconciler.Deployments();
  CHECK(views[0].replicas[0].restarts == 1);
  CHECK(views[0].replicas[0].exit_status == 1u);
}

TEST_CASE("A replica that exits again right after its restart waits its back-off delay first") {
  Harness h;
  auto app = App(1);
  app.spec.services["web"].restart_policy.delay = 10s;
  h.StartWith({app});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  h.reconciler.OnTaskExit("app-web-0", h.ops.Exit("app-web-0"), 1, h.clock.WallNow());
  REQUIRE(h.RunUntil([&] { return h.ops.Count("start app-web-0") == 2; }, 0s));  // at once
  h.reconciler.OnTaskExit("app-web-0", h.ops.Exit("app-web-0"), 1, h.clock.WallNow());
  const auto began = h.Now();
  h.Wait(10s - 1ms);
  CHECK(h.StateOf("app-web-0") == ReplicaState::kBackoff);
  CHECK(h.ops.Count("start app-web-0") == 2);
  REQUIRE(h.RunUntil([&] { return h.ops.Count("start app-web-0") == 3; }));
  CHECK(h.Now() - began >= 10s);
  CHECK(h.Now() - began <= 11s);  // up to 10% jitter
  CHECK(h.View("app-web-0")->restarts == 2);
}

TEST_CASE(
    "With restart policy no, an exited replica stays exited and the deployment counts as settled") {
  Harness h;
  h.StartWith({App(1, spec::RestartKind::kNo)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  pid_t pid = h.ops.Exit("app-web-0");
  h.reconciler.OnTaskExit("app-web-0", pid, 3, h.clock.WallNow());
  h.Wait(1min);
  CHECK(h.ops.Count("start app-web-0") == 1);
  CHECK(h.StateOf("app-web-0") == ReplicaState::kFailed);
}

TEST_CASE("An exit event of an older task does not count against the current one") {
  Harness h;
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  h.reconciler.OnTaskExit("app-web-0", /*pid=*/1, 1, h.clock.WallNow());
  CHECK(h.StateOf("app-web-0") == ReplicaState::kRunning);
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

TEST_CASE("Deleting a deployment stops its replicas with their own signal and grace period") {
  Harness h;
  auto app = App(1);
  app.spec.services["web"].stop_signal = SIGQUIT;
  app.spec.services["web"].stop_grace_period = 3s;
  h.StartWith({app});
  REQUIRE(h.RunUntil([&] { return h.ops.Count("start app-web-0") == 1; }));
  h.ops.IgnoreSignals("app-web-0");
  h.reconciler.Delete("app", [](Status) {});
  REQUIRE(h.RunUntil([&] { return h.ops.Count("stop app-web-0") == 1; }));
  CHECK(h.ops.StopSignalOf("app-web-0") == SIGQUIT);
  const auto stopped_at = h.Now();
  REQUIRE(h.RunUntil([&] { return h.ops.Count("kill app-web-0") == 1; }));
  CHECK(h.Now() - stopped_at == 3s);
}

TEST_CASE("After an agent restart, running containers are adopted and not restarted") {
  Harness h;
  h.ops.Put(RunningAppWeb0());
  h.StartWith({App(1)});
  h.Wait(1min);
  CHECK(h.ops.Calls().empty());
  CHECK(h.output.attached == std::set<std::string>{"app-web-0"});
  CHECK(h.StateOf("app-web-0") == ReplicaState::kRunning);
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

TEST_CASE("A replica with a health check is not converged until its check passes") {
  Harness h;
  auto app = App(1);
  app.spec.services["web"].health = CommandCheck();
  h.StartWith({app});
  bool converged = false;
  h.reconciler.WaitConverged("app", 1, [&](Status s) { converged = s.ok(); });
  REQUIRE(h.RunUntil([&] { return h.health.watched.count("app-web-0") == 1; }));
  h.Wait(1min);
  CHECK_FALSE(converged);
  CHECK(h.View("app-web-0")->health == ReplicaHealth::kStarting);
  h.health.Report("app-web-0", HealthWatcher::Verdict::kHealthy);
  REQUIRE(h.RunUntil([&] { return converged; }));
  CHECK(h.View("app-web-0")->health == ReplicaHealth::kHealthy);
}

TEST_CASE("An unhealthy replica is stopped and started again by its restart policy") {
  Harness h;
  auto app = App(1);
  app.spec.services["web"].health = CommandCheck();
  h.StartWith({app});
  REQUIRE(h.RunUntil([&] { return h.health.watched.count("app-web-0") == 1; }));
  h.health.Report("app-web-0", HealthWatcher::Verdict::kHealthy);
  h.health.Report("app-web-0", HealthWatcher::Verdict::kUnhealthy, "connection refused");
  REQUIRE(h.RunUntil([&] { return h.ops.Count("start app-web-0") == 2; }));
  CHECK(h.ops.Count("stop app-web-0") == 1);
  REQUIRE(h.RunUntil([&] { return h.View("app-web-0")->restart_history.size() == 1; }));
  const ReplicaView* r = h.View("app-web-0");
  CHECK(r->restarts == 1);
  CHECK(r->restart_history[0].cause == "unhealthy");
  CHECK(r->restart_history[0].reason == "Unhealthy");
}

TEST_CASE(
    "A rolling update starts the new replica first and removes the old one once it is healthy") {
  Harness h;
  auto app = App(1);
  app.spec.services["web"].health = CommandCheck();
  h.StartWith({app});
  REQUIRE(
      h.RunUntil([&] { return h.health.Report("app-web-0", HealthWatcher::Verdict::kHealthy); }));
  auto next = app;
  next.generation = 2;
  next.service_hashes["web"] = "h2";
  h.reconciler.Apply(next);
  REQUIRE(h.RunUntil([&] { return h.health.watched.count("app-web-0-g2") == 1; }));
  CHECK(h.ops.Count("stop app-web-0") == 0);  // the old replica still serves
  bool converged = false;
  h.reconciler.WaitConverged("app", 2, [&](Status s) { converged = s.ok(); });
  h.health.Report("app-web-0-g2", HealthWatcher::Verdict::kHealthy);
  REQUIRE(h.RunUntil([&] { return converged; }));
  CHECK(h.ops.Count("remove app-web-0") == 1);
  auto views = h.reconciler.Deployments();
  REQUIRE(views[0].services.size() == 1);
  CHECK(views[0].services[0].rollout_state == RolloutState::kComplete);
}

TEST_CASE(
    "A rolling update whose new replica turns unhealthy stops, and the old replica keeps serving") {
  Harness h;
  auto app = App(2);
  app.spec.services["web"].health = CommandCheck();
  h.StartWith({app});
  REQUIRE(h.RunUntil([&] { return h.health.watched.size() == 2; }));
  h.health.Report("app-web-0", HealthWatcher::Verdict::kHealthy);
  h.health.Report("app-web-1", HealthWatcher::Verdict::kHealthy);
  auto next = app;
  next.generation = 2;
  next.service_hashes["web"] = "h2";
  h.reconciler.Apply(next);
  Status outcome;
  bool finished = false;
  h.reconciler.WaitConverged("app", 2, [&](Status s) {
    outcome = s;
    finished = true;
  });
  REQUIRE(h.RunUntil([&] { return h.health.watched.count("app-web-0-g2") == 1; }));
  h.health.Report("app-web-0-g2", HealthWatcher::Verdict::kUnhealthy, "exit 1");
  REQUIRE(h.RunUntil([&] { return finished && h.ops.Count("remove app-web-0-g2") == 1; }));
  CHECK(outcome.code() == StatusCode::kFailedPrecondition);
  CHECK(h.ops.Count("stop app-web-0") == 0);
  CHECK(h.ops.Count("create app-web-1-g2") == 0);
  CHECK(h.StateOf("app-web-0") == ReplicaState::kRunning);
  CHECK(h.StateOf("app-web-1") == ReplicaState::kRunning);
  auto views = h.reconciler.Deployments();
  CHECK(views[0].services[0].rollout_state == RolloutState::kStopped);
  CHECK_THAT(views[0].failure, Catch::Contains("app-web-0-g2 unhealthy"));
}

TEST_CASE("A service waits for its dependency to be healthy before its replicas are created") {
  Harness h;
  h.StartWith({AppWithDb(spec::Dependency{})});
  REQUIRE(h.RunUntil([&] { return h.health.watched.count("app-db-0") == 1; }));
  h.Wait(4min);  // of the default 5m
  CHECK(h.ops.Count("create app-web-0") == 0);
  auto views = h.reconciler.Deployments();
  CHECK_THAT(views[0].services[1].message, Catch::StartsWith("waiting for db to be healthy"));
  h.health.Report("app-db-0", HealthWatcher::Verdict::kHealthy);
  REQUIRE(h.RunUntil([&] { return h.ops.Count("start app-web-0") == 1; }));
}

TEST_CASE("A dependency that times out with on_timeout fail fails the deployment") {
  Harness h;
  spec::Dependency on_db;
  on_db.timeout = 30s;
  on_db.on_timeout = spec::TimeoutAction::kFail;
  h.StartWith({AppWithDb(on_db)});
  const auto began = h.Now();
  Status outcome;
  bool finished = false;
  h.reconciler.WaitConverged("app", 1, [&](Status s) {
    outcome = s;
    finished = true;
  });
  h.Wait(30s - 1ms);
  CHECK_FALSE(finished);
  REQUIRE(h.RunUntil([&] { return finished; }));
  CHECK(h.Now() - began == 30s);
  CHECK(outcome.code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(outcome.message()),
             Catch::Contains("gave up waiting for db to be healthy"));
  CHECK(h.ops.Count("create app-web-0") == 0);
}

TEST_CASE("A job that exits 0 is completed and not started again") {
  Harness h;
  auto app = App(1, spec::RestartKind::kOnFailure);
  app.spec.services["web"].rtype = spec::ResourceType::kJob;
  h.StartWith({app});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  pid_t pid = h.ops.Exit("app-web-0");
  h.reconciler.OnTaskExit("app-web-0", pid, 0, h.clock.WallNow());
  bool converged = false;
  h.reconciler.WaitConverged("app", 1, [&](Status s) { converged = s.ok(); });
  REQUIRE(h.RunUntil([&] { return converged; }));
  CHECK(h.StateOf("app-web-0") == ReplicaState::kCompleted);
  CHECK(h.ops.Count("start app-web-0") == 1);
}

TEST_CASE(
    "Node shutdown asks to stop every running replica with its own signal, grace capped, and plans "
    "nothing more") {
  Harness h;
  auto app = App(2);
  app.spec.services["web"].stop_signal = SIGQUIT;
  app.spec.services["web"].stop_grace_period = 30s;
  h.StartWith({app});
  REQUIRE(h.RunUntil([&] { return h.ops.Count("start app-web-1") == 1; }));
  auto requests = h.reconciler.PrepareShutdown(5s);
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].signal == SIGQUIT);
  CHECK(requests[0].grace == 5s);
  pid_t pid = h.ops.Exit("app-web-0");
  h.reconciler.OnTaskExit("app-web-0", pid, 143, h.clock.WallNow());
  h.Wait(1min);
  CHECK(h.ops.Count("start app-web-0") == 1);
}

TEST_CASE("Scaling down stops a replica with its image's STOPSIGNAL when the service names none") {
  Harness h;
  h.ops.SetImageStopSignal(SIGQUIT);
  h.StartWith({App(2)});
  REQUIRE(h.RunUntil([&] { return h.ops.Count("start app-web-1") == 1; }));
  CHECK(h.View("app-web-1")->stop_signal == SIGQUIT);
  auto smaller = App(1);
  smaller.generation = 2;
  h.reconciler.Apply(smaller);
  REQUIRE(h.RunUntil([&] { return h.ops.Count("remove app-web-1") == 1; }));
  CHECK(h.ops.StopSignalOf("app-web-1") == SIGQUIT);
}

TEST_CASE("The service's stop_signal wins over the image's STOPSIGNAL, at node shutdown too") {
  Harness h;
  h.ops.SetImageStopSignal(SIGQUIT);
  auto app = App(1);
  app.spec.services["web"].stop_signal = SIGINT;
  h.StartWith({app});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  CHECK(h.View("app-web-0")->stop_signal == SIGINT);
  auto requests = h.reconciler.PrepareShutdown(5s);
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].signal == SIGINT);
}

TEST_CASE("A stop-first replacement stops the old replica with its image's STOPSIGNAL") {
  Harness h;
  h.ops.SetImageStopSignal(SIGUSR1);
  auto app = App(1);
  spec::Endpoint endpoint;
  endpoint.name = "http";
  endpoint.port = 18400;
  app.spec.services["web"].endpoints.push_back(endpoint);
  app.spec.services["web"].network_mode = spec::NetworkMode::kHost;
  h.StartWith({app});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  auto next = app;
  next.generation = 2;
  next.service_hashes["web"] = "h2";
  h.reconciler.Apply(next);
  REQUIRE(h.RunUntil([&] { return h.ops.Count("create app-web-0") == 2; }));
  CHECK(h.ops.StopSignalOf("app-web-0") == SIGUSR1);
}

TEST_CASE(
    "A create that fails because the request is too large marks the replica failed with the "
    "reason, once") {
  Harness h;
  h.ops.FailCreates({Status(StatusCode::kResourceExhausted,
                            "create container app-web-0: Sent message larger than max "
                            "(790000000 vs. 16777216)")});
  h.StartWith({App(1)});
  Status outcome;
  bool finished = false;
  h.reconciler.WaitConverged("app", 1, [&](Status s) {
    outcome = s;
    finished = true;
  });
  REQUIRE(h.RunUntil([&] { return finished; }));
  h.Wait(1min);
  CHECK(h.ops.Count("create app-web-0") == 1);
  const ReplicaView* r = h.View("app-web-0");
  REQUIRE(r != nullptr);
  CHECK(r->state == ReplicaState::kFailed);
  CHECK_THAT(r->reason, Catch::Contains("larger than max"));
  CHECK(outcome.code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(outcome.message()), Catch::Contains("app-web-0 failed"));
}

TEST_CASE("A create that fails because containerd is unavailable is retried until it succeeds") {
  Harness h;
  h.ops.FailCreates({Status(StatusCode::kUnavailable, "connection refused"),
                     Status(StatusCode::kUnavailable, "connection refused")});
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  CHECK(h.ops.Count("create app-web-0") == 3);
}

TEST_CASE("Deleting a deployment whose replica failed to create forgets that replica") {
  Harness h;
  h.ops.FailCreates({Status(StatusCode::kInvalidArgument, "invalid spec")});
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kFailed; }));
  bool deleted = false;
  h.reconciler.Delete("app", [&](Status s) { deleted = s.ok(); });
  REQUIRE(h.RunUntil([&] { return deleted; }));
  h.reconciler.Apply(App(1));
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  CHECK(h.ops.Count("create app-web-0") == 2);
}

TEST_CASE("A replica's image is prepared before its container is created") {
  Harness h;
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  REQUIRE(h.ops.IndexOf("prepare busybox") >= 0);
  CHECK(h.ops.IndexOf("prepare busybox") < h.ops.IndexOf("create app-web-0"));
}

TEST_CASE("A replica whose image is already on the node is created without preparing it") {
  Harness h;
  h.ops.SetImageReady("busybox");
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  CHECK(h.ops.Count("prepare busybox") == 0);
}

TEST_CASE("A stop ends when the task's exit event arrives, not when its grace period ends") {
  Harness h;
  h.ScaleDownFromTwo(30s, StopAnswer::kExits);
  const auto began = h.Now();
  REQUIRE(h.RunUntil([&] { return h.ops.Count("remove app-web-1") == 1; }));
  CHECK(h.Now() == began);  // no time had to pass
  CHECK(h.ops.Count("kill app-web-1") == 0);
  CHECK(h.ops.IndexOf("stop app-web-1") < h.ops.IndexOf("delete task app-web-1"));
  CHECK(h.ops.IndexOf("delete task app-web-1") < h.ops.IndexOf("remove app-web-1"));
  CHECK(h.StateOf("app-web-0") == ReplicaState::kRunning);
}

TEST_CASE("A replica is drained before its stop signal, and the signal waits for the drain") {
  Harness h;
  h.network.hold_drains = true;
  const auto began = h.Now();
  h.ScaleDownFromTwo(30s, StopAnswer::kExits);
  REQUIRE(h.RunUntil([&] { return h.network.held_drains.size() == 1; }));
  CHECK(h.network.drain_deadlines.at("app-web-1") - h.clock.SteadyNow() == 30s - (h.Now() - began));
  h.Wait(2s);
  CHECK(h.ops.Count("stop app-web-1") == 0);
  h.network.held_drains.front()();
  REQUIRE(h.RunUntil([&] { return h.ops.Count("remove app-web-1") == 1; }));
  CHECK(h.ops.Count("kill app-web-1") == 0);
}

TEST_CASE("A drain that lasts the whole grace period is followed by the signal, then SIGKILL") {
  Harness h;
  h.network.hold_drains = true;
  h.ScaleDownFromTwo(10s, StopAnswer::kIgnores);
  REQUIRE(h.RunUntil([&] { return h.network.held_drains.size() == 1; }));
  h.Wait(10s);
  h.network.held_drains.front()();  // the drain gave up at its deadline
  REQUIRE(h.RunUntil([&] { return h.ops.Count("kill app-web-1") == 1; }, 1s));
  CHECK(h.ops.IndexOf("stop app-web-1") < h.ops.IndexOf("kill app-web-1"));
}

TEST_CASE("A replica that exits while it is drained is deleted without a signal") {
  Harness h;
  h.network.hold_drains = true;
  h.ScaleDownFromTwo(30s, StopAnswer::kExits);
  REQUIRE(h.RunUntil([&] { return h.network.held_drains.size() == 1; }));
  pid_t pid = h.ops.Exit("app-web-1");
  h.reconciler.OnTaskExit("app-web-1", pid, 1, h.clock.WallNow());
  REQUIRE(h.RunUntil([&] { return h.ops.Count("remove app-web-1") == 1; }));
  h.network.held_drains.front()();
  h.Wait(1s);
  CHECK(h.ops.Count("stop app-web-1") == 0);
}

TEST_CASE("A task that ignores its stop signal gets SIGKILL when its grace period ends") {
  Harness h;
  h.ScaleDownFromTwo(10s, StopAnswer::kIgnores);
  h.Wait(10s - 1ms);
  CHECK(h.ops.Count("stop app-web-1") == 1);
  CHECK(h.ops.Count("kill app-web-1") == 0);
  h.Wait(1ms);
  CHECK(h.ops.Count("kill app-web-1") == 1);
  REQUIRE(h.RunUntil([&] { return h.ops.Count("remove app-web-1") == 1; }, 0s));
  CHECK(h.ops.IndexOf("kill app-web-1") < h.ops.IndexOf("delete task app-web-1"));
  CHECK_FALSE(h.ops.HasTask("app-web-1"));
}

TEST_CASE(
    "Node shutdown signals every task first, kills those that ignore it after their grace, and "
    "deletes every task in about one grace period") {
  Harness h;
  auto app = App(5);
  app.spec.services["web"].stop_grace_period = 10s;
  h.StartWith({app});
  REQUIRE(h.RunUntil([&] { return h.ops.Count("start app-web-4") == 1; }));
  for (const char* id : {"app-web-1", "app-web-2", "app-web-3", "app-web-4"}) {
    h.ops.IgnoreSignals(id);
  }
  auto requests = h.reconciler.PrepareShutdown(30s);
  REQUIRE(requests.size() == 5);
  const auto began = h.Now();
  std::optional<Status> stopped;
  h.reconciler.StopAll(requests, [&](Status s) { stopped = s; });
  REQUIRE(h.RunUntil([&] { return stopped.has_value(); }));
  CHECK(stopped->ok());
  CHECK(h.Now() - began == 10s);  // one grace; four one after the other would take 40 s
  int last_signal = 0;
  int first_kill = 1 << 20;
  for (int i = 0; i < 5; ++i) {
    const std::string id = "app-web-" + std::to_string(i);
    CHECK_FALSE(h.ops.HasTask(id));
    last_signal = std::max(last_signal, h.ops.IndexOf("stop " + id));
    if (i > 0) first_kill = std::min(first_kill, h.ops.IndexOf("kill " + id));
  }
  CHECK(h.ops.Count("kill app-web-0") == 0);
  CHECK(last_signal < first_kill);
  CHECK(h.ops.Count("remove app-web-0") == 0);  // containers are kept for the next start
}

TEST_CASE("A task that survives SIGKILL ends its stop with an error instead of a wait forever") {
  Harness h;
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  h.ops.Unkillable("app-web-0");
  auto requests = h.reconciler.PrepareShutdown(500ms);
  const auto began = h.Now();
  std::optional<Status> stopped;
  h.reconciler.StopAll(requests, [&](Status s) { stopped = s; });
  REQUIRE(h.RunUntil([&] { return stopped.has_value(); }));
  CHECK(h.Now() - began == 500ms + 10s);  // grace, then kill_wait
  CHECK(stopped->code() == StatusCode::kDeadlineExceeded);
  CHECK_THAT(std::string(stopped->message()), Catch::Contains("app-web-0 still running"));
  CHECK(h.ops.Count("check app-web-0") == 1);
}

TEST_CASE("Node shutdown during a removal stops the replica once, by the shorter grace") {
  Harness h;
  h.ScaleDownFromTwo(30s, StopAnswer::kIgnores);
  REQUIRE(h.RunUntil([&] { return h.ops.Count("stop app-web-1") == 1; }, 0s));
  h.ops.IgnoreSignals("app-web-0");
  auto requests = h.reconciler.PrepareShutdown(5s);
  REQUIRE(requests.size() == 2);
  const auto began = h.Now();
  std::optional<Status> stopped;
  h.reconciler.StopAll(requests, [&](Status s) { stopped = s; });
  REQUIRE(h.RunUntil([&] { return stopped.has_value(); }));
  CHECK(h.Now() - began == 5s);
  CHECK(stopped->ok());
  CHECK(h.ops.Count("stop app-web-1") == 1);
  CHECK(h.ops.Count("kill app-web-1") == 1);
  CHECK_FALSE(h.ops.HasTask("app-web-1"));
}

namespace {
int IndexIn(const std::vector<std::string>& calls, const std::string& call) {
  auto it = std::find(calls.begin(), calls.end(), call);
  return it == calls.end() ? -1 : static_cast<int>(it - calls.begin());
}
}  // namespace

TEST_CASE("A replica is created in the network it was attached to, and shows its address") {
  Harness h;
  h.StartWith({App(2)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-1") == ReplicaState::kRunning; }));
  CHECK(IndexIn(h.network.calls, "attach app-web-0") >= 0);
  const AttachedNetwork network = h.ops.CreatedIn("app-web-0");
  CHECK(network.netns == "/run/zlayer/netns/app-web-0");
  CHECK(network.address == h.network.AddressOf("app-web-0"));
  CHECK(h.View("app-web-0")->address == network.address);
  CHECK(h.View("app-web-1")->address != network.address);
}

TEST_CASE("A restarted task keeps its replica's network and address: no new network is made") {
  Harness h;
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  const std::string address = h.View("app-web-0")->address;
  h.reconciler.OnTaskExit("app-web-0", h.ops.Exit("app-web-0"), 1, h.clock.WallNow());
  REQUIRE(h.RunUntil([&] { return h.ops.Count("start app-web-0") == 2; }));
  CHECK(h.network.networks_made == 1);
  CHECK(h.View("app-web-0")->address == address);
}

TEST_CASE(
    "A stopped replica found at start asks for its network before its task starts, so a "
    "namespace lost with the node is restored first; a failed restore delays only the start") {
  Harness h;
  ObservedContainer stopped = RunningAppWeb0();
  stopped.has_task = false;
  stopped.task_status = TaskStatus::kUnknown;
  stopped.pid = 0;
  h.ops.Put(stopped);
  h.network.attach_failures.push_back(
      Status(StatusCode::kInternal, "cni bridge ADD for app-web-0: no space left"));
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  CHECK(std::count(h.network.calls.begin(), h.network.calls.end(), "attach app-web-0") == 2);
  CHECK(h.ops.Count("start app-web-0") == 1);  // not tried with the network missing
  CHECK(h.ops.Count("create app-web-0") == 0);  // the container is kept
}

TEST_CASE(
    "A removed replica is detached after its container is gone, and a deleted "
    "deployment's network is released") {
  Harness h;
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  bool deleted = false;
  h.reconciler.Delete("app", [&](Status s) { deleted = s.ok(); });
  REQUIRE(h.RunUntil([&] { return deleted; }));
  CHECK(IndexIn(h.network.calls, "detach app-web-0") >= 0);
  CHECK(h.ops.Count("remove app-web-0") == 1);
  CHECK(IndexIn(h.network.calls, "release app") >= 0);
  CHECK(h.network.attached.empty());
}

TEST_CASE("A failing network setup fails that replica's start, which its restart policy retries") {
  Harness h;
  h.network.attach_failures.push_back(
      Status(StatusCode::kInternal, "cni bridge ADD for app-web-0: no space left"));
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  CHECK(h.network.calls.front() == "attach app-web-0");  // the one that failed
  CHECK(h.network.networks_made == 1);
  CHECK(h.ops.Count("create app-web-0") == 1);
}

TEST_CASE("A container that fails to create gives its network back before the retry") {
  Harness h;
  h.ops.FailCreates({Status(StatusCode::kUnavailable, "connection refused")});
  h.StartWith({App(1)});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRunning; }));
  const int detached = IndexIn(h.network.calls, "detach app-web-0");
  REQUIRE(detached >= 0);
  CHECK(detached < static_cast<int>(h.network.calls.size()) - 1);  // an attach followed
}

TEST_CASE("Health checks are aimed at the replica's own address") {
  Harness h;
  auto app = App(1);
  app.spec.services["web"].health = CommandCheck();
  h.StartWith({app});
  REQUIRE(h.RunUntil([&] { return h.health.watched.count("app-web-0") == 1; }));
  CHECK(h.health.aimed_at["app-web-0"] == h.network.AddressOf("app-web-0"));
  CHECK_FALSE(h.health.aimed_at["app-web-0"].empty());
}

TEST_CASE(
    "At start, the network keeps what belongs to the containers found and the desired "
    "deployments") {
  Harness h;
  h.ops.Put(RunningAppWeb0());
  h.StartWith({App(1)});
  CHECK(h.network.pruned_keeping == std::set<std::string>{"app-web-0"});
  CHECK(h.network.pruned_deployments_keeping == std::set<std::string>{"app"});
}

TEST_CASE("A replica is shown ready once its check passes, and no longer once it is removed") {
  Harness h;
  auto app = App(1);
  app.spec.services["web"].health = CommandCheck();
  h.StartWith({app});
  REQUIRE(h.RunUntil([&] { return h.health.watched.count("app-web-0") == 1; }));
  CHECK_FALSE(h.View("app-web-0")->ready);
  h.health.Report("app-web-0", HealthWatcher::Verdict::kHealthy);
  REQUIRE(h.RunUntil([&] { return h.View("app-web-0")->ready; }));
  h.ops.IgnoreSignals("app-web-0");
  h.reconciler.Delete("app", [](Status) {});
  REQUIRE(h.RunUntil([&] { return h.StateOf("app-web-0") == ReplicaState::kRemoving; }));
  CHECK_FALSE(h.View("app-web-0")->ready);
}

TEST_CASE("A replica adopted after an agent restart stays ready while its checks start over") {
  Harness h;
  h.ops.Put(RunningAppWeb0());
  auto app = App(1);
  app.spec.services["web"].health = CommandCheck();
  h.StartWith({app});
  REQUIRE(h.View("app-web-0") != nullptr);
  CHECK(h.View("app-web-0")->health == ReplicaHealth::kStarting);
  CHECK(h.View("app-web-0")->ready);
}
