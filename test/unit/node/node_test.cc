// The application layer over fakes: an in-memory store, a reconciler over fake
// containers, a fake image catalog and containerd in memory.
#include "agent/node/node.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>
#include <mutex>

#include "agent/logs/log_hub.h"
#include "agent/store/memory_store.h"
#include "test/support/containerd/fake_client.h"
#include "test/support/network/fake_replica_network.h"

using namespace std::chrono_literals;
using namespace zlayer;
using namespace zlayer::agent;
using namespace zlayer::agent::node;

namespace {

// Containers that start when asked and exit only when signalled; exits are
// reported through `on_exit`, as containerd's events are. Called from the
// pools, so it locks.
class RunningContainers : public reconcile::ReplicaOperations {
 public:
  using OnExit = std::function<void(const std::string& id, pid_t pid)>;
  void SetOnExit(OnExit on_exit) {
    std::lock_guard lock(mu_);
    on_exit_ = std::move(on_exit);
  }
  Result<std::optional<reconcile::PreparedImage>> LocalImage(const spec::Service& s) override {
    return std::optional(reconcile::PreparedImage{s.image.name, "", {}, ""});
  }
  Result<reconcile::PreparedImage> PrepareImage(const spec::Service& s) override {
    return reconcile::PreparedImage{s.image.name, "", {}, ""};
  }
  Result<std::vector<reconcile::ObservedContainer>> ObserveAll() override {
    std::lock_guard lock(mu_);
    std::vector<reconcile::ObservedContainer> out;
    for (auto& [id, c] : containers_) out.push_back(c);
    return out;
  }
  Result<reconcile::ObservedContainer> Create(const std::string& id, const spec::Deployment& d,
                                              const spec::Service& s, uint32_t replica,
                                              const std::string& hash,
                                              const reconcile::PreparedImage&,
                                              const reconcile::AttachedNetwork&) override {
    std::lock_guard lock(mu_);
    reconcile::ObservedContainer c;
    c.id = id;
    c.deployment = d.name;
    c.service = s.name;
    c.replica = replica;
    c.spec_hash = hash;
    containers_[id] = c;
    return c;
  }
  Result<pid_t> Start(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto& c = containers_.at(id);
    c.has_task = true;
    c.task_status = containerd::TaskStatus::kRunning;
    c.pid = next_pid_++;
    return c.pid;
  }
  Status Signal(const std::string& id, int, bool) override {
    OnExit on_exit;
    pid_t pid = 0;
    {
      std::lock_guard lock(mu_);
      auto it = containers_.find(id);
      if (it == containers_.end() || !it->second.has_task ||
          it->second.task_status != containerd::TaskStatus::kRunning) {
        return NotFoundError("task " + id + ": not found");
      }
      it->second.task_status = containerd::TaskStatus::kStopped;
      pid = it->second.pid;
      on_exit = on_exit_;
    }
    if (on_exit) on_exit(id, pid);
    return Status::Ok();
  }
  Result<bool> TaskRunning(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto it = containers_.find(id);
    return it != containers_.end() && it->second.has_task &&
           it->second.task_status == containerd::TaskStatus::kRunning;
  }
  Status DeleteTask(const std::string& id) override {
    std::lock_guard lock(mu_);
    if (auto it = containers_.find(id); it != containers_.end()) it->second.has_task = false;
    return Status::Ok();
  }
  Status Remove(const std::string& id) override {
    std::lock_guard lock(mu_);
    containers_.erase(id);
    return Status::Ok();
  }
  Result<int> RemoveLeftovers() override { return 0; }

 private:
  std::mutex mu_;
  std::map<std::string, reconcile::ObservedContainer> containers_;
  OnExit on_exit_;
  pid_t next_pid_ = 100;
};

class NoOutput : public reconcile::OutputAttacher {
 public:
  void Attach(const std::string&, std::function<void(Status)> done) override { done(Status::Ok()); }
  void Detach(const std::string&, bool) override {}
};

class NoHealth : public reconcile::HealthWatcher {
 public:
  void Watch(const std::string&, const std::string&, const spec::Health&, OnChange) override {}
  void Unwatch(const std::string&) override {}
  std::vector<reconcile::HealthCheckRecord> History(const std::string&) const override {
    return {};
  }
};

// Images by name; records what was asked.
class FakeCatalog : public ImageCatalog {
 public:
  Result<std::vector<ImageInfo>> Import(const std::string&, const std::string& name,
                                        const OnProgress& on_progress) override {
    on_progress({"sha256:aa", "layer", 10, 10, 4});
    return std::vector<ImageInfo>{{name, "sha256:aa", "manifest", 10, true}};
  }
  Status CheckPlatform(const std::string& platform) override {
    if (platform.empty() || platform == "linux/amd64") return Status::Ok();
    return InvalidArgumentError("platform " + platform + ": unknown");
  }
  Result<ImageInfo> Pull(const std::string& reference, const std::string&,
                         const std::function<void(const PullResolvedInfo&)>& on_resolved,
                         const OnProgress&) override {
    on_resolved({reference, "sha256:bb", "linux/amd64", {}});
    std::lock_guard lock(mu_);
    pulled.push_back(reference);
    return ImageInfo{reference, "sha256:bb", "manifest", 20, true};
  }
  Result<std::vector<ImageInfo>> List() override {
    return std::vector<ImageInfo>{{"busybox", "sha256:cc", "manifest", 1, true}};
  }
  Status Remove(const std::string& reference) override {
    std::lock_guard lock(mu_);
    removed.push_back(reference);
    return Status::Ok();
  }
  std::mutex mu_;
  std::vector<std::string> pulled;
  std::vector<std::string> removed;
};

// Certificates as the test sets them.
class FakeCertificates : public CertificateCatalog {
 public:
  std::vector<CertificateView> Certificates() const override { return certificates; }
  std::vector<CertificateView> certificates;
};

std::string Spec(const std::string& deployment, int replicas, const std::string& image = "busybox",
                 const std::string& service = "web") {
  return "version: v1\ndeployment: " + deployment + "\nservices:\n  " + service +
         ":\n    image: {name: " + image +
         "}\n    scale: {mode: fixed, replicas: " + std::to_string(replicas) + "}\n";
}

struct Harness {
  boost::asio::io_context loop;
  boost::asio::thread_pool lifecycle{2}, images{1}, files{2}, queries{1};
  NodeConfig config;
  Environment env;
  Logger log{"test", LogLevel::kError};
  store::MemoryStore store;
  RunningContainers containers;
  NoOutput output;
  NoHealth health;
  testing::FakeReplicaNetwork network;
  LoopClock clock{loop};
  reconcile::Reconciler reconciler{loop,   lifecycle, images,  clock, containers,
                                   output, health,    network, log,   Options()};
  FakeCatalog catalog;
  containerd::FakeClient containerd;
  logs::LogHub hub;
  FakeCertificates certificates;
  Node node{NodeParts{{loop, lifecycle, images, files, queries},
                      config,
                      env,
                      log,
                      store,
                      reconciler,
                      health,
                      catalog,
                      containerd,
                      containerd,
                      hub,
                      nullptr,
                      &certificates}};

  static reconcile::Reconciler::Options Options() {
    reconcile::Reconciler::Options options;
    options.resync_interval = 1h;
    return options;
  }

  Harness() {
    containers.SetOnExit([this](const std::string& id, pid_t pid) {
      boost::asio::post(loop, [this, id, pid] {
        reconciler.OnTaskExit(id, pid, 143, std::chrono::system_clock::now());
      });
    });
    config.state_dir = "/tmp/zlayer-node-test-state";
    config.run_dir = "/tmp/zlayer-node-test-run-does-not-exist";
  }
  ~Harness() {
    lifecycle.join();
    images.join();
    files.join();
    queries.join();
  }

  // Runs the loop until `done` holds (the pools answer in their own time).
  template <typename Pred>
  bool RunUntil(Pred done, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      loop.restart();
      loop.run_for(2ms);
    }
    return done();
  }

  void StartReconciling() {
    bool loaded = false;
    node.Load([&](Status) { loaded = true; });
    REQUIRE(RunUntil([&] { return loaded; }));
    REQUIRE(node.OnContainerdUp("1.6.20"));
  }

  Result<DeployResult> Deploy(const std::string& yaml, bool dry_run = false) {
    std::optional<Result<DeployResult>> answer;
    node.Deploy(yaml, "app.yaml", dry_run, [&](Result<DeployResult> r) { answer = std::move(r); });
    REQUIRE(RunUntil([&] { return answer.has_value(); }));
    return std::move(*answer);
  }

  const reconcile::DeploymentView* View(const std::string& name) {
    static std::vector<reconcile::DeploymentView> views;
    views = node.Deployments();
    for (const auto& v : views) {
      if (v.name == name) return &v;
    }
    return nullptr;
  }
};

}  // namespace

TEST_CASE("Given a new valid spec, Deploy stores it as generation 1 and the node runs it") {
  Harness h;
  h.StartReconciling();
  auto result = h.Deploy(Spec("app", 2));
  REQUIRE(result.ok());
  CHECK(result->problems.empty());
  CHECK(result->changed);
  CHECK(result->generation == 1);
  REQUIRE(result->changes.size() == 1);
  CHECK(result->changes[0].kind == ServiceChange::Kind::kAdd);
  CHECK(h.store.saves() == 1);
  CHECK(h.RunUntil([&] {
    auto* view = h.View("app");
    return view != nullptr && view->replicas.size() == 2;
  }));
}

TEST_CASE("A spec with a problem is rejected with its location, and nothing is stored") {
  Harness h;
  h.StartReconciling();
  auto result = h.Deploy("version: v1\ndeployment: app\nservices:\n  web:\n    imag: x\n");
  REQUIRE(result.ok());
  REQUIRE_FALSE(result->problems.empty());
  CHECK(spec::FormatProblem(result->problems[0]).find("app.yaml:") != std::string::npos);
  CHECK(h.store.saves() == 0);
  CHECK(h.node.Deployments().empty());
}

TEST_CASE("Deploying the same spec again changes nothing and keeps its generation") {
  Harness h;
  h.StartReconciling();
  REQUIRE(h.Deploy(Spec("app", 1))->generation == 1);
  auto again = h.Deploy(Spec("app", 1));
  REQUIRE(again.ok());
  CHECK_FALSE(again->changed);
  CHECK(again->generation == 1);
  CHECK(h.store.saves() == 1);
  auto scaled = h.Deploy(Spec("app", 3));
  CHECK(scaled->generation == 2);
  CHECK(scaled->changes[0].kind == ServiceChange::Kind::kScale);
  auto updated = h.Deploy(Spec("app", 3, "alpine"));
  CHECK(updated->generation == 3);
  CHECK(updated->changes[0].kind == ServiceChange::Kind::kUpdate);
}

TEST_CASE("A dry run reports the changes and stores nothing") {
  Harness h;
  h.StartReconciling();
  auto result = h.Deploy(Spec("app", 1), /*dry_run=*/true);
  REQUIRE(result.ok());
  CHECK(result->dry_run);
  CHECK(result->generation == 1);
  CHECK(h.store.saves() == 0);
  CHECK(h.node.Deployments().empty());
}

TEST_CASE(
    "Concurrent deploys of one deployment are numbered in arrival order, and the last is "
    "what the store and the reconciler hold") {
  Harness h;
  h.StartReconciling();
  std::vector<uint64_t> generations;
  for (int replicas = 1; replicas <= 10; ++replicas) {
    h.node.Deploy(Spec("app", replicas), "app.yaml", false, [&](Result<DeployResult> r) {
      REQUIRE(r.ok());
      generations.push_back(r->generation);
    });
  }
  REQUIRE(h.RunUntil([&] { return generations.size() == 10; }));
  CHECK(generations == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  auto loaded = h.store.LoadAll();
  REQUIRE(loaded.ok());
  REQUIRE(loaded->deployments.size() == 1);
  CHECK(loaded->deployments[0].generation == 10);
  CHECK(loaded->deployments[0].spec_yaml == Spec("app", 10));
  CHECK(h.reconciler.Generation("app") == std::optional<uint64_t>(10));
}

TEST_CASE(
    "A failed save answers with the store's error, and the next deploy compares with what "
    "is stored") {
  Harness h;
  h.StartReconciling();
  REQUIRE(h.Deploy(Spec("app", 1))->generation == 1);
  h.store.set_error(UnavailableError("disk full"));
  auto failed = h.Deploy(Spec("app", 2));
  REQUIRE_FALSE(failed.ok());
  CHECK_THAT(failed.status().message(),
             Catch::Contains("store deployment app") && Catch::Contains("disk full"));
  h.store.set_error(Status::Ok());
  auto retried = h.Deploy(Spec("app", 2));
  REQUIRE(retried.ok());
  CHECK(retried->generation == 2);
  CHECK(retried->changes[0].kind == ServiceChange::Kind::kScale);
}

TEST_CASE("A deployment claiming a node port another deployment holds is refused, naming it") {
  Harness h;
  h.StartReconciling();
  auto with_port = [](const std::string& name) {
    return "version: v1\ndeployment: " + name +
           "\nservices:\n  web:\n    image: {name: busybox}\n    network_mode: host\n"
           "    endpoints:\n      - {name: http, protocol: http, port: 8080}\n";
  };
  REQUIRE(h.Deploy(with_port("first")).ok());
  REQUIRE(h.RunUntil([&] { return !h.reconciler.Deployments().empty(); }));
  auto second = h.Deploy(with_port("second"));
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(second.status().message(), Catch::Contains("first"));
  CHECK(h.store.saves() == 1);
}

TEST_CASE(
    "Scale stores a new generation with the new count; a missing service or deployment "
    "is kNotFound naming it") {
  Harness h;
  h.StartReconciling();
  REQUIRE(h.Deploy(Spec("app", 1)).ok());
  auto scale = [&](const std::string& d, const std::string& s, uint32_t n) {
    std::optional<Result<ScaleResult>> answer;
    h.node.Scale(d, s, n, [&](Result<ScaleResult> r) { answer = std::move(r); });
    REQUIRE(h.RunUntil([&] { return answer.has_value(); }));
    return std::move(*answer);
  };
  auto scaled = scale("app", "web", 4);
  REQUIRE(scaled.ok());
  CHECK(scaled->previous_replicas == 1);
  CHECK(scaled->generation == 2);
  CHECK(h.RunUntil([&] { return h.View("app") && h.View("app")->replicas.size() == 4; }));
  auto same = scale("app", "web", 4);
  REQUIRE(same.ok());
  CHECK(same->generation == 2);
  auto no_service = scale("app", "db", 2);
  CHECK(no_service.status().code() == StatusCode::kNotFound);
  CHECK_THAT(no_service.status().message(), Catch::Contains("service db"));
  auto no_deployment = scale("nope", "web", 2);
  CHECK(no_deployment.status().code() == StatusCode::kNotFound);
  CHECK_THAT(no_deployment.status().message(), Catch::Contains("deployment nope"));
}

TEST_CASE("Delete forgets the deployment and its replicas; an unknown one is kNotFound") {
  Harness h;
  h.StartReconciling();
  REQUIRE(h.Deploy(Spec("app", 2)).ok());
  REQUIRE(h.RunUntil([&] { return h.View("app") && h.View("app")->replicas.size() == 2; }));
  std::optional<Result<uint32_t>> deleted;
  h.node.Delete("app", true, [&](Result<uint32_t> r) { deleted = std::move(r); });
  REQUIRE(h.RunUntil([&] { return deleted.has_value(); }));
  REQUIRE(deleted->ok());
  CHECK(**deleted == 2);
  CHECK(h.store.removes() == 1);
  CHECK(h.node.Deployments().empty());
  std::optional<Result<uint32_t>> unknown;
  h.node.Delete("app", false, [&](Result<uint32_t> r) { unknown = std::move(r); });
  REQUIRE(h.RunUntil([&] { return unknown.has_value(); }));
  CHECK(unknown->status().code() == StatusCode::kNotFound);
}

TEST_CASE(
    "A target names a replica, a deployment's service, a unique service or a deployment; "
    "a service name two deployments share is ambiguous") {
  Harness h;
  h.StartReconciling();
  REQUIRE(h.Deploy(Spec("one", 2)).ok());
  REQUIRE(h.Deploy(Spec("two", 1)).ok());
  REQUIRE(h.Deploy(Spec("three", 1, "busybox", "db")).ok());
  REQUIRE(h.RunUntil([&] { return h.node.ResolveTarget("two").ok(); }));
  REQUIRE(h.RunUntil([&] { return h.node.ResolveTarget("db").ok(); }));
  CHECK(*h.node.ResolveTarget("one-web-1") == std::vector<std::string>{"one-web-1"});
  CHECK(h.node.ResolveTarget("one/web")->size() == 2);
  CHECK(*h.node.ResolveTarget("db") == std::vector<std::string>{"three-db-0"});
  CHECK(h.node.ResolveTarget("one")->size() == 2);
  auto ambiguous = h.node.ResolveTarget("web");
  CHECK(ambiguous.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(ambiguous.status().message(),
             Catch::Contains("one/web") && Catch::Contains("two/web"));
  CHECK(h.node.ResolveTarget("ghost").status().code() == StatusCode::kNotFound);
}

TEST_CASE(
    "Stored deployments are loaded and parsed, shown before containerd answers, and run "
    "once it does") {
  Harness h;
  REQUIRE(h.store.Save({"app", 7, Spec("app", 1), std::chrono::system_clock::now()}).ok());
  REQUIRE(h.store
              .Save({"broken", 2, "version: v1\ndeployment: broken\nservices: 3\n",
                     std::chrono::system_clock::now()})
              .ok());
  bool loaded = false;
  h.node.Load([&](Status s) {
    CHECK(s.ok());
    loaded = true;
  });
  REQUIRE(h.RunUntil([&] { return loaded; }));
  REQUIRE(h.View("app") != nullptr);
  CHECK(h.View("app")->generation == 7);
  CHECK_FALSE(h.node.reconciling());
  CHECK_FALSE(h.node.CurrentStatus().containerd_reachable);
  REQUIRE(h.node.OnContainerdUp("1.6.20"));
  CHECK(h.node.CurrentStatus().containerd_version == "1.6.20");
  CHECK(h.RunUntil([&] { return h.View("app") && h.View("app")->replicas.size() == 1; }));
  CHECK(h.reconciler.Generation("broken") == std::nullopt);
  CHECK_FALSE(h.node.OnContainerdUp("1.6.20"));  // later connections resync
  h.node.OnContainerdDown("connection refused");
  CHECK(h.node.CurrentStatus().containerd_error == "connection refused");
}

TEST_CASE(
    "An image a deployment uses is not removed without force; images go through the "
    "catalog off the loop") {
  Harness h;
  h.StartReconciling();
  REQUIRE(h.Deploy(Spec("app", 1)).ok());
  REQUIRE(h.RunUntil([&] { return h.View("app") && h.View("app")->replicas.size() == 1; }));
  std::optional<Status> refused;
  h.node.RemoveImage("busybox", false, [&](Status s) { refused = s; });
  REQUIRE(h.RunUntil([&] { return refused.has_value(); }));
  CHECK(refused->code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(refused->message(), Catch::Contains("app/web"));
  std::optional<Status> forced;
  h.node.RemoveImage("busybox", true, [&](Status s) { forced = s; });
  REQUIRE(h.RunUntil([&] { return forced.has_value(); }));
  CHECK(forced->ok());
  CHECK(h.catalog.removed == std::vector<std::string>{"busybox"});

  std::optional<Result<ImageInfo>> pulled;
  std::string resolved;
  h.node.PullImage(
      "alpine", "", [&](const PullResolvedInfo& info) { resolved = info.name; },
      [](const ImportProgress&) {}, [&](Result<ImageInfo> r) { pulled = std::move(r); });
  REQUIRE(h.RunUntil([&] { return pulled.has_value(); }));
  CHECK(resolved == "alpine");
  CHECK((*pulled)->digest == "sha256:bb");
  std::optional<Result<ImageInfo>> bad_platform;
  h.node.PullImage(
      "alpine", "plan9/mips", [](const PullResolvedInfo&) {}, [](const ImportProgress&) {},
      [&](Result<ImageInfo> r) { bad_platform = std::move(r); });
  REQUIRE(bad_platform.has_value());
  CHECK(bad_platform->status().code() == StatusCode::kInvalidArgument);
  size_t count = 0;
  h.node.CountImages([&](size_t n) { count = n; });
  CHECK(h.RunUntil([&] { return count == 1; }));
}

TEST_CASE("Without zlayer-init's children file the node's health is containerd's") {
  Harness h;
  std::optional<NodeHealth> health;
  h.node.CheckHealth([&](NodeHealth answer) { health = answer; });
  REQUIRE(h.RunUntil([&] { return health.has_value(); }));
  CHECK_FALSE(health->healthy);
  h.node.OnContainerdDown("connection refused");
  h.node.OnContainerdUp("1.6.20");
  health.reset();
  h.node.CheckHealth([&](NodeHealth answer) { health = answer; });
  REQUIRE(h.RunUntil([&] { return health.has_value(); }));
  CHECK(health->healthy);
}

TEST_CASE(
    "Routes gives each https route the source of its host's certificate and says why one is "
    "self-signed, and other kinds have none") {
  Harness h;
  using Clock = std::chrono::system_clock;
  const Clock::time_point expiry = Clock::time_point(std::chrono::seconds(1'800'000'000));
  CertificateView acme{"shop.test", "acme", expiry, "", CertificateView::Acme{}};
  CertificateView failing{"pay.test", "self-signed", expiry,
                          "no certificate for pay.test in /certs: self-signed",
                          CertificateView::Acme{.last_error = "order: connection refused"}};
  CertificateView waiting{"new.test", "self-signed", expiry,
                          "no certificate for new.test in /certs: self-signed",
                          CertificateView::Acme{.in_progress = true}};
  CertificateView wildcard{
      "*.cdn.test", "self-signed", expiry, "no certificate for *.cdn.test in /certs: self-signed",
      CertificateView::Acme{.refused = true, .last_error = "a wildcard: HTTP-01 cannot do it"}};
  CertificateView fallback{"", "user", expiry, "", std::nullopt};
  h.certificates.certificates = {acme, failing, waiting, wildcard, fallback};
  h.StartReconciling();
  auto endpoint = [](const std::string& name, const std::string& protocol, int port,
                     const std::string& host) {
    std::string text = "      - {name: " + name + ", protocol: " + protocol +
                       ", port: " + std::to_string(port) + ", target_port: 8080";
    if (!host.empty()) text += ", host: \"" + host + "\"";
    return text + ", expose: public}\n";
  };
  std::string yaml =
      "version: v1\ndeployment: shop\nservices:\n  web:\n    image: {name: busybox}\n"
      "    endpoints:\n" +
      endpoint("plain", "http", 80, "shop.test") + endpoint("shop", "https", 443, "shop.test") +
      endpoint("pay", "https", 443, "pay.test") + endpoint("new", "https", 443, "new.test") +
      endpoint("cdn", "https", 443, "*.cdn.test") + endpoint("any", "https", 443, "") +
      endpoint("other", "https", 8443, "other.test");
  auto result = h.Deploy(yaml);
  REQUIRE(result.ok());
  REQUIRE(result->problems.empty());

  std::map<std::pair<uint16_t, std::string>, RouteView> routes;
  for (const ListenerView& l : h.node.Routes()) {
    for (const RouteView& r : l.routes) routes[{l.port, r.host}] = r;
  }
  auto route = [&](uint16_t port, const std::string& host) {
    INFO("route " << port << " " << host);
    REQUIRE(routes.count({port, host}) == 1);
    return routes[{port, host}];
  };
  CHECK(route(80, "shop.test").certificate.empty());
  CHECK(route(443, "shop.test").certificate == "acme");
  CHECK(route(443, "shop.test").certificate_note.empty());
  CHECK(route(443, "pay.test").certificate == "self-signed");
  CHECK(route(443, "pay.test").certificate_note == "order: connection refused");
  CHECK(route(443, "new.test").certificate_note ==
        "no certificate for new.test in /certs: self-signed");
  CHECK(route(443, "*.cdn.test").certificate_note == "a wildcard: HTTP-01 cannot do it");
  CHECK(route(443, "").certificate == "user");
  CHECK(route(443, "").certificate_note.empty());
  // A host the catalog does not know (yet): nothing claimed.
  CHECK(route(8443, "other.test").certificate.empty());

  REQUIRE(h.node.Certificates().size() == 5);
  CHECK(h.node.Certificates()[1].acme->last_error == "order: connection refused");
}

TEST_CASE("Without a certificate catalog the node lists no certificates") {
  Harness h;
  Node bare{NodeParts{{h.loop, h.lifecycle, h.images, h.files, h.queries},
                      h.config,
                      h.env,
                      h.log,
                      h.store,
                      h.reconciler,
                      h.health,
                      h.catalog,
                      h.containerd,
                      h.containerd,
                      h.hub}};
  CHECK(bare.Certificates().empty());
  h.certificates.certificates = {{"", "self-signed", {}, "", std::nullopt}};
  CHECK(h.node.Certificates().size() == 1);
}

TEST_CASE("Status reports the event loop's lag when the node has a monitor, and none without") {
  Harness h;
  CHECK_FALSE(h.node.CurrentStatus().loop_lag.has_value());

  LoopLagMonitor monitor(h.loop, {.interval = 1ms, .window = 100});
  Node measured{NodeParts{{h.loop, h.lifecycle, h.images, h.files, h.queries},
                          h.config,
                          h.env,
                          h.log,
                          h.store,
                          h.reconciler,
                          h.health,
                          h.catalog,
                          h.containerd,
                          h.containerd,
                          h.hub,
                          &monitor}};
  monitor.Start();
  REQUIRE(h.RunUntil([&] { return measured.CurrentStatus().loop_lag->samples >= 3; }));
  monitor.Stop();
  NodeStatus status = measured.CurrentStatus();
  CHECK(status.loop_lag->interval == 1ms);
  CHECK(status.loop_lag->max >= status.loop_lag->p50);
}
