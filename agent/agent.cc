#include "agent/agent.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "agent/api/agent_service.h"
#include "agent/api/socket_listener.h"
#include "agent/health/health_monitor.h"
#include "agent/health/prober_factory.h"
#include "agent/images/image_store.h"
#include "agent/images/importer.h"
#include "agent/images/puller.h"
#include "agent/lifecycle/image_source.h"
#include "agent/lifecycle/replica_runtime.h"
#include "agent/logs/container_io.h"
#include "agent/logs/log_hub.h"
#include "agent/logs/paths.h"
#include "agent/registry/curl_transport.h"
#include "agent/spec/edit.h"
#include "agent/spec/kernel_names.h"
#include "agent/spec/parser.h"
#include "agent/spec/serialize.h"
#include "agent/spec/size.h"
#include "agent/store/file_store.h"
#include "common/duration.h"
#include "common/sd_notify.h"
#include "common/shutdown.h"
#include "common/supervised_children.h"
#include "common/version.h"

namespace zlayer::agent {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// Registry access from the configuration: insecure hosts, and the credentials of
// ZLAYER_REGISTRY_CONFIG and $DOCKER_CONFIG/config.json, read when a registry asks
// for them (a malformed file is reported and skipped).
registry::RegistryOptions RegistryOptionsFrom(const NodeConfig& config, const Environment& env,
                                              Logger& log) {
  registry::RegistryOptions options;
  options.insecure_registries = config.insecure_registries;
  std::vector<std::string> paths = {config.registry_config};
  if (auto it = env.find("DOCKER_CONFIG"); it != env.end() && !it->second.empty()) {
    paths.push_back(it->second + "/config.json");
  }
  options.credentials = [paths, &log] {
    std::vector<std::string> readable;
    for (const std::string& path : paths) {
      auto creds = registry::Credentials::Load({path});
      if (creds.ok()) {
        readable.push_back(path);
      } else {
        log.Warn("registry credentials: {}", creds.status().message());
      }
    }
    auto all = registry::Credentials::Load(readable);
    return all.ok() ? std::move(*all) : registry::Credentials();
  };
  return options;
}

// A pull's or import's progress event as the API reports it (phases as
// zlayer.v1.BlobProgress.Phase); nullopt for events the API does not show.
std::optional<ImportProgress> ToBlobProgress(const images::ProgressEvent& event) {
  ImportProgress progress;
  progress.digest = event.blob.digest;
  progress.media_type = event.blob.media_type;
  progress.size = event.blob.size;
  progress.offset = event.done;
  switch (event.kind) {
    case images::ProgressEvent::Kind::kBlobWriting:
      progress.phase = 2;
      break;
    case images::ProgressEvent::Kind::kBlobWritten:
      progress.phase = event.already_present ? 3 : 4;
      progress.offset = event.blob.size;
      break;
    case images::ProgressEvent::Kind::kLayerUnpacking:
      progress.phase = 5;
      break;
    case images::ProgressEvent::Kind::kLayerUnpacked:
      progress.phase = 6;
      break;
    case images::ProgressEvent::Kind::kImageStored:
      return std::nullopt;
  }
  return progress;
}

// Container log rotation from ZLAYER_LOG_MAX_SIZE ("10Mi", bytes, K/M/G and
// Ki/Mi/Gi) and ZLAYER_LOG_MAX_FILES; a bad value is reported and the default kept.
logs::LogFileOptions LogRotation(const Environment& env, Logger& log) {
  logs::LogFileOptions options;
  if (auto it = env.find("ZLAYER_LOG_MAX_SIZE"); it != env.end() && !it->second.empty()) {
    auto size = spec::ParseSize(it->second);
    if (size.ok() && *size > 0) {
      options.max_size = *size;
    } else {
      log.Warn("ZLAYER_LOG_MAX_SIZE={}: expected a size such as 10Mi; using 10Mi", it->second);
    }
  }
  if (auto it = env.find("ZLAYER_LOG_MAX_FILES"); it != env.end() && !it->second.empty()) {
    int n = std::atoi(it->second.c_str());
    if (n >= 1 && std::to_string(n) == it->second) {
      options.max_files = n;
    } else {
      log.Warn("ZLAYER_LOG_MAX_FILES={}: expected a whole number of at least 1; using 3",
               it->second);
    }
  }
  return options;
}

// The FIFO drains of every container we run, on the loop.
class OutputDrains : public reconcile::OutputAttacher {
 public:
  OutputDrains(asio::io_context& loop, const NodeConfig& config, logs::LogHub& hub, Logger& log,
               logs::LogFileOptions rotation)
      : loop_(loop), config_(config), hub_(hub), log_(log), rotation_(rotation) {}

  Status Attach(const std::string& id) override {
    if (open_.count(id)) return Status::Ok();
    auto paths = logs::IoPathsFor(config_, id);
    if (!paths.ok()) return paths.status();
    logs::ContainerIoOptions options;
    options.drain.logger = &log_;
    options.file = rotation_;
    auto io = logs::ContainerIo::Open(loop_, *paths, hub_, options);
    if (!io.ok()) return io.status();
    open_[id] = std::move(*io);
    return Status::Ok();
  }

  void Detach(const std::string& id, bool remove_logs) override {
    auto it = open_.find(id);
    if (it != open_.end()) {
      it->second->Close();
      open_.erase(it);
    }
    if (!remove_logs) return;
    auto paths = logs::IoPathsFor(config_, id);
    if (paths.ok()) {
      if (Status s = logs::RemoveContainerIo(*paths); !s.ok()) log_.Warn("{}", s.message());
    }
  }

 private:
  asio::io_context& loop_;
  const NodeConfig& config_;
  logs::LogHub& hub_;
  Logger& log_;
  logs::LogFileOptions rotation_;
  std::map<std::string, std::unique_ptr<logs::ContainerIo>> open_;
};

ServiceChange::Kind ChangeKind(const spec::Service* before, const std::string& before_hash,
                               const spec::Service* after, const std::string& after_hash) {
  if (before == nullptr) return ServiceChange::Kind::kAdd;
  if (after == nullptr) return ServiceChange::Kind::kRemove;
  if (before_hash != after_hash) return ServiceChange::Kind::kUpdate;
  if (before->scale.replicas != after->scale.replicas) return ServiceChange::Kind::kScale;
  return ServiceChange::Kind::kUnchanged;
}

// The reconciler's health checks, run by agent/health: tcp and http probes on
// the loop, command probes (containerd Exec) on a pool of their own, so slow
// commands never hold up the workers that create and start containers.
class HealthChecks : public reconcile::HealthWatcher {
 public:
  HealthChecks(asio::io_context& loop, containerd::Client& client, const NodeConfig& config,
               Logger& log)
      : prober_(health::NewProber(loop, client, probe_pool_, config.state_dir, log)),
        monitor_(loop, *prober_, log) {}
  ~HealthChecks() override { probe_pool_.join(); }

  void Watch(const std::string& id, const spec::Health& health, OnChange on_change) override {
    monitor_.Watch(id, health,
                   [on_change = std::move(on_change)](const std::string&, health::HealthState state,
                                                      const health::CheckResult& last) {
                     on_change(state == health::HealthState::kHealthy     ? Verdict::kHealthy
                               : state == health::HealthState::kUnhealthy ? Verdict::kUnhealthy
                                                                          : Verdict::kStarting,
                               last.output);
                   });
  }
  void Unwatch(const std::string& id) override { monitor_.Unwatch(id); }
  std::vector<reconcile::HealthCheckRecord> History(const std::string& id) const override {
    std::vector<reconcile::HealthCheckRecord> out;
    for (const health::CheckResult& r : monitor_.History(id)) {
      out.push_back({r.started, r.duration, r.ok, r.exit_code.value_or(0), r.output,
                     r.output.size() >= health::kMaxCheckOutput});
    }
    return out;
  }

 private:
  asio::thread_pool probe_pool_{2};
  std::unique_ptr<health::Prober> prober_;
  health::HealthMonitor monitor_;
};

// ZLAYER_RESTART_UNHEALTHY: true (default) or false.
bool RestartUnhealthy(const Environment& env, Logger& log) {
  auto it = env.find("ZLAYER_RESTART_UNHEALTHY");
  if (it == env.end() || it->second.empty() || it->second == "true" || it->second == "1") {
    return true;
  }
  if (it->second == "false" || it->second == "0") return false;
  log.Warn("ZLAYER_RESTART_UNHEALTHY={}: expected true or false; using true", it->second);
  return true;
}

ImageInfo ToImageInfo(const images::ImageSummary& image) {
  return {image.name, image.digest, image.media_type, image.size, image.unpacked};
}

}  // namespace

class Agent::Impl {
 public:
  Impl(Agent& agent, Environment env, Logger& log)
      : agent_(agent),
        config_(agent.config_),
        env_(std::move(env)),
        log_(log),
        loop_(agent.loop_),
        signals_(loop_, SIGTERM, SIGINT),
        watchdog_timer_(loop_),
        reconnect_timer_(loop_),
        client_(containerd::NewGrpcClient({config_.containerd_socket, config_.namespace_name})),
        image_store_(*client_, config_.snapshotter,
                     images::HostPlatform().ok() ? *images::HostPlatform() : images::Platform{}),
        importer_(*client_, image_store_),
        transport_(registry::NewCurlTransport({})),
        registry_(*transport_, RegistryOptionsFrom(config_, env_, log_)),
        puller_(*client_, image_store_, registry_),
        image_source_(image_store_, puller_, config_.pull_concurrency, log_),
        drains_(loop_, config_, hub_, log_, LogRotation(env_, log_)),
        health_(loop_, *client_, config_, log_),
        started_at_(std::chrono::system_clock::now()) {}

  int Run();
  void Shutdown(const char* why);
  // Gives the heap's free memory back to the system (glibc keeps it
  // otherwise): after a deployment's specs and containers are gone, the
  // agent's RSS returns near its idle level. On the pool: it takes a moment.
  void TrimHeap() {
    asio::post(workers_, [] { ::malloc_trim(0); });
  }
  void FeedWatchdog(std::chrono::milliseconds period);

  // containerd connection.
  void Connect();
  // Blocking (waits for containerd to confirm the stream): pool only.
  std::shared_ptr<containerd::EventSubscription> Subscribe();
  void OnConnected(const containerd::VersionInfo& version);
  void OnEventStreamEnded(const Status& status);
  void LoadDesiredState();

  Agent& agent_;
  const NodeConfig& config_;
  Environment env_;
  Logger& log_;
  asio::io_context& loop_;
  asio::signal_set signals_;
  asio::steady_timer watchdog_timer_;
  asio::steady_timer reconnect_timer_;
  asio::thread_pool workers_{4};

  std::unique_ptr<containerd::Client> client_;
  images::ImageStore image_store_;
  images::Importer importer_;
  std::unique_ptr<registry::HttpTransport> transport_;
  registry::RegistryClient registry_;
  images::Puller puller_;
  lifecycle::StoreImageSource image_source_;
  logs::LogHub hub_;
  OutputDrains drains_;
  HealthChecks health_;
  std::thread stopper_;  // node shutdown: stops the containers off the loop
  // The store is not thread-safe and its calls (fsync) run on the pool, one at a time and in
  // the order they were accepted on the loop: the lane is a strand, so a later deploy's save
  // can never overtake an earlier one's, and their completions reach the loop in that order.
  std::mutex store_mu_;
  std::unique_ptr<store::FileStore> store_;
  asio::strand<asio::thread_pool::executor_type> store_lane_{asio::make_strand(workers_)};
  std::unique_ptr<lifecycle::ReplicaRuntime> runtime_;
  std::unique_ptr<reconcile::Reconciler> reconciler_;
  std::shared_ptr<containerd::EventSubscription> events_;  // subscribed on the pool

  std::unique_ptr<api::AgentService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<api::SocketListener> listener_;

  // Known on the loop only.
  bool containerd_up_ = false;
  bool reconciler_started_ = false;
  std::string containerd_version_;
  std::string containerd_error_ = "not connected yet";
  std::chrono::milliseconds reconnect_delay_{100};
  // Desired state by name. `stored_` is what was last accepted (the next deploy compares
  // against it and numbers its generation after it, even while its save is still queued);
  // `saved_` is what the store holds, so a failed save can fall back to it.
  std::map<std::string, store::StoredDeployment> stored_;
  std::map<std::string, store::StoredDeployment> saved_;
  std::chrono::system_clock::time_point started_at_;
  size_t images_known_ = 0;  // the last image count (Status, while containerd is away)
  bool stopping_ = false;
  int exit_code_ = 0;
};

int Agent::Impl::Run() {
  // Signals first: a SIGTERM during start-up still stops us cleanly.
  signals_.async_wait([this](boost::system::error_code ec, int signal) {
    if (!ec) Shutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT");
  });

  auto store = store::FileStore::Open(config_.data_dir);
  if (!store.ok()) {
    log_.Error("desired state: {}", store.status().message());
    return 1;
  }
  store_ = std::move(*store);

  auto facts = lifecycle::ReadNodeFacts();
  if (!facts.ok()) {
    log_.Error("reading the node's limits: {}", facts.status().message());
    return 1;
  }
  runtime_ =
      std::make_unique<lifecycle::ReplicaRuntime>(*client_, image_source_, config_, *facts, log_);
  reconcile::Reconciler::Options options;
  options.restart_unhealthy = RestartUnhealthy(env_, log_);
  reconciler_ = std::make_unique<reconcile::Reconciler>(loop_, workers_, *runtime_, drains_,
                                                        health_, log_, options);

  // The API serves from the start: List/Status/Health answer while containerd
  // is still coming up.
  service_ = std::make_unique<api::AgentService>(agent_);
  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  builder.SetMaxReceiveMessageSize(api::kMaxMessageBytes);
  builder.SetMaxSendMessageSize(api::kMaxMessageBytes);
  server_ = builder.BuildAndStart();
  if (!server_) {
    log_.Error("cannot start the API server");
    return 1;
  }
  listener_ = std::make_unique<api::SocketListener>(config_.agent_socket, log_, [this](int fd) {
    grpc::AddInsecureChannelFromFd(server_.get(), fd);
  });
  if (Status s = listener_->Start(); !s.ok()) {
    log_.Error("{}", s.message());
    server_->Shutdown();
    return 1;
  }
  log_.Info("serving the zlayer.v1 API on {}", config_.agent_socket);

  LoadDesiredState();
  Connect();

  // Watchdog pings come from the loop: if the loop is stuck, they stop.
  if (auto interval = SdWatchdogInterval(env_)) {
    FeedWatchdog(std::chrono::duration_cast<std::chrono::milliseconds>(*interval) / 3);
  }
  loop_.run();
  return exit_code_;
}

void Agent::Impl::FeedWatchdog(std::chrono::milliseconds period) {
  (void)SdNotify(env_, "WATCHDOG=1");
  watchdog_timer_.expires_after(period);
  watchdog_timer_.async_wait([this, period](boost::system::error_code ec) {
    if (!ec) FeedWatchdog(period);
  });
}

void Agent::Impl::LoadDesiredState() {
  auto loaded = store_->LoadAll();
  if (!loaded.ok()) {
    log_.Error("desired state: {}", loaded.status().message());
    return;
  }
  for (const store::LoadProblem& p : loaded->problems) {
    log_.Error("desired state: {}: {}", p.path, p.status.message());
  }
  for (store::StoredDeployment& d : loaded->deployments) stored_[d.name] = std::move(d);
  saved_ = stored_;
  log_.Info("desired state: {} deployment(s) from {}", stored_.size(), config_.data_dir);
}

void Agent::Impl::Connect() {
  asio::post(workers_, [this] {
    auto version = client_->Version();
    Status ns =
        version.ok()
            ? client_->EnsureNamespace({{containerd::kLabelDefaultSnapshotter, config_.snapshotter},
                                        {containerd::kLabelDefaultRuntime, config_.runtime}})
            : version.status();
    // Subscribing blocks until containerd confirms the stream, so it happens
    // here on the pool, before the loop acts on anything (subscribe first).
    std::shared_ptr<containerd::EventSubscription> events;
    if (version.ok() && ns.ok()) events = Subscribe();
    asio::post(loop_, [this, version, ns, events] {
      if (stopping_) return;
      if (!version.ok() || !ns.ok()) {
        containerd_up_ = false;
        containerd_error_ = (version.ok() ? ns : version.status()).message();
        log_.Warn("containerd not reachable at {}: {}; retrying in {}", config_.containerd_socket,
                  containerd_error_, FormatDuration(reconnect_delay_));
        reconnect_timer_.expires_after(reconnect_delay_);
        reconnect_delay_ = std::min(reconnect_delay_ * 2, std::chrono::milliseconds(5000));
        reconnect_timer_.async_wait([this](boost::system::error_code ec) {
          if (!ec) Connect();
        });
        return;
      }
      events_ = events;
      OnConnected(*version);
    });
  });
}

std::shared_ptr<containerd::EventSubscription> Agent::Impl::Subscribe() {
  return client_->SubscribeEvents(
      {"topic==\"/tasks/exit\"", "topic==\"/tasks/oom\""},
      [this](const containerd::Event& event) {
        asio::post(loop_, [this, event] {
          if (!reconciler_started_) return;
          if (event.topic == "/tasks/exit" && event.exec_id == event.container_id) {
            reconciler_->OnTaskExit(event.container_id, event.pid, event.exit_status,
                                    event.exited_at);
          } else if (event.topic == "/tasks/oom") {
            reconciler_->OnTaskOom(event.container_id);
          }
        });
      },
      [this](const Status& status) {
        asio::post(loop_, [this, status] { OnEventStreamEnded(status); });
      });
}

void Agent::Impl::OnConnected(const containerd::VersionInfo& version) {
  containerd_up_ = true;
  containerd_version_ = version.version;
  containerd_error_.clear();
  reconnect_delay_ = std::chrono::milliseconds(100);
  log_.Info("connected to containerd {} at {} (namespace {})", version.version,
            config_.containerd_socket, config_.namespace_name);
  if (reconciler_started_) {
    reconciler_->Resync();
    return;
  }
  std::vector<reconcile::DesiredDeployment> desired;
  for (const auto& [name, stored] : stored_) {
    auto parsed = spec::ParseSpec(stored.spec_yaml, "stored spec of " + name, env_);
    if (!parsed.ok()) {
      for (const spec::Problem& p : parsed.problems) {
        log_.Error("stored deployment {}: {}", name, spec::FormatProblem(p));
      }
      continue;
    }
    reconcile::DesiredDeployment d;
    d.generation = stored.generation;
    d.spec = std::move(*parsed.deployment);
    for (const auto& [service_name, service] : d.spec.services) {
      d.service_hashes[service_name] = spec::ServiceHash(service);
    }
    desired.push_back(std::move(d));
  }
  reconciler_->Start(std::move(desired), [this](Status s) {
    if (!s.ok()) log_.Warn("first look at containerd failed: {}", s.message());
  });
  reconciler_started_ = true;
  (void)SdNotify(env_, "READY=1\nSTATUS=serving; containerd " + containerd_version_);
  log_.Info("ready");
}

void Agent::Impl::OnEventStreamEnded(const Status& status) {
  if (stopping_) return;
  events_.reset();
  containerd_up_ = false;
  containerd_error_ = status.ok() ? "event stream ended" : status.message();
  log_.Warn("lost containerd ({}); reconnecting", containerd_error_);
  reconnect_timer_.expires_after(reconnect_delay_);
  reconnect_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) Connect();
  });
}

void Agent::Impl::Shutdown(const char* why) {
  if (stopping_) return;
  stopping_ = true;
  (void)SdNotify(env_, "STOPPING=1");
  if (listener_) listener_->Stop();
  if (events_) events_->Cancel();
  watchdog_timer_.cancel();
  reconnect_timer_.cancel();
  // Node shutdown: every container gets its stop signal at once and its grace
  // period, capped so that containerd still stops inside the supervisor's
  // budget. Desired state stays on disk; the next start brings it all back.
  // The agent's share of the budget, less time to SIGKILL what ignored its
  // signal and delete the tasks.
  const auto share = std::chrono::duration_cast<std::chrono::nanoseconds>(config_.stop_timeout *
                                                                          kAgentShareOfStopTimeout);
  const auto cap = std::max(share - std::chrono::milliseconds(1500), share / 2);
  std::vector<reconcile::ReplicaOperations::StopRequest> requests;
  if (reconciler_started_ && containerd_up_) requests = reconciler_->PrepareShutdown(cap);
  log_.Info("stopping ({}): stopping {} container(s), grace at most {}", why, requests.size(),
            FormatDuration(cap));
  stopper_ = std::thread([this, requests = std::move(requests)] {
    Status stopped = requests.empty() ? Status::Ok() : runtime_->StopAll(requests);
    asio::post(loop_, [this, stopped, n = requests.size()] {
      if (!stopped.ok()) {
        log_.Warn("stopping containers: {}", stopped.message());
      } else if (n > 0) {
        log_.Info("{} container(s) stopped", n);
      }
      loop_.stop();
    });
  });
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

// ---- Agent ----------------------------------------------------------------------

Agent::Agent(NodeConfig config, Environment env, Logger& log)
    : config_(std::move(config)), impl_(std::make_unique<Impl>(*this, std::move(env), log)) {}

Agent::~Agent() {
  if (!impl_) return;
  if (impl_->stopper_.joinable()) impl_->stopper_.join();
  impl_->workers_.join();
}

int Agent::Run() { return impl_->Run(); }

void Agent::Deploy(std::string yaml, std::string source, bool dry_run,
                   std::function<void(Result<DeployResult>)> done) {
  DeployResult result;
  result.dry_run = dry_run;
  spec::ParseResult parsed = spec::ParseSpec(yaml, source.empty() ? "<spec>" : source, impl_->env_);
  if (!parsed.ok()) {
    result.problems = std::move(parsed.problems);
    return done(std::move(result));
  }
  // The node's ports are shared across deployments too (the parser checks one deployment).
  std::vector<spec::PortClaim> claims;
  if (impl_->reconciler_started_) {
    for (const reconcile::DeploymentView& view : impl_->reconciler_->Deployments()) {
      for (const reconcile::ServiceView& service : view.services) {
        if (const spec::Service* s = impl_->reconciler_->ServiceSpec(view.name, service.name)) {
          for (const spec::ListenPort& port : spec::NodePorts(*s)) {
            claims.push_back({view.name, service.name, port});
          }
        }
      }
    }
  }
  if (auto conflicts = spec::NodePortConflicts(*parsed.deployment, claims); !conflicts.empty()) {
    std::string message = "deployment " + parsed.deployment->name + ": ";
    for (size_t i = 0; i < conflicts.size(); ++i) message += (i ? "; " : "") + conflicts[i];
    return done(FailedPreconditionError(std::move(message)));
  }
  reconcile::DesiredDeployment desired;
  desired.spec = std::move(*parsed.deployment);
  for (const auto& [name, service] : desired.spec.services) {
    desired.service_hashes[name] = spec::ServiceHash(service);
  }
  const std::string name = desired.spec.name;
  result.deployment = name;

  // Compare with what is stored, service by service.
  std::optional<spec::Deployment> before;
  uint64_t generation = 0;
  if (auto it = impl_->stored_.find(name); it != impl_->stored_.end()) {
    generation = it->second.generation;
    auto old = spec::ParseSpec(it->second.spec_yaml, "stored", impl_->env_);
    if (old.ok()) before = std::move(old.deployment);
  }
  std::set<std::string> names;
  if (before)
    for (const auto& [n, s] : before->services) names.insert(n);
  for (const auto& [n, s] : desired.spec.services) names.insert(n);
  bool changed = !before.has_value();
  for (const std::string& n : names) {
    const spec::Service* b = nullptr;
    const spec::Service* a = nullptr;
    if (before) {
      auto it = before->services.find(n);
      if (it != before->services.end()) b = &it->second;
    }
    auto it = desired.spec.services.find(n);
    if (it != desired.spec.services.end()) a = &it->second;
    ServiceChange change;
    change.service = n;
    change.kind =
        ChangeKind(b, b ? spec::ServiceHash(*b) : "", a, a ? desired.service_hashes[n] : "");
    change.replicas_before = b ? b->scale.replicas : 0;
    change.replicas_after = a ? a->scale.replicas : 0;
    if (a != nullptr) change.strategy = reconcile::ChooseUpdateStrategy(*a);
    changed = changed || change.kind != ServiceChange::Kind::kUnchanged;
    result.changes.push_back(change);
  }
  result.changed = changed;
  result.generation = changed ? generation + 1 : generation;
  if (dry_run || !changed) return done(std::move(result));

  desired.generation = result.generation;
  store::StoredDeployment stored;
  stored.name = name;
  stored.generation = result.generation;
  stored.spec_yaml = std::move(yaml);
  stored.applied_at = std::chrono::system_clock::now();
  // Accepted here, on the loop: the generation is taken now, so concurrent deploys of one
  // deployment number 1, 2, 3... in the order they arrive. The save (fsync) runs on the
  // store lane in that same order, then the reconciler gets the spec back on the loop.
  impl_->stored_[name] = stored;
  asio::post(impl_->store_lane_, [this, stored, desired = std::move(desired),
                                  result = std::move(result), done = std::move(done)]() mutable {
    Status saved;
    {
      std::lock_guard lock(impl_->store_mu_);
      saved = impl_->store_->Save(stored);
    }
    asio::post(loop_, [this, saved, stored = std::move(stored), desired = std::move(desired),
                       result = std::move(result), done = std::move(done)]() mutable {
      if (!saved.ok()) {
        // Nothing changed on disk: unless a later deploy or delete was accepted meanwhile,
        // the accepted state falls back to what the store holds.
        auto it = impl_->stored_.find(stored.name);
        if (it != impl_->stored_.end() && it->second.generation == stored.generation) {
          if (auto s = impl_->saved_.find(stored.name); s != impl_->saved_.end()) {
            it->second = s->second;
          } else {
            impl_->stored_.erase(it);
          }
        }
        return done(saved.Wrap("store deployment " + stored.name));
      }
      impl_->saved_[stored.name] = stored;
      if (impl_->reconciler_started_) {
        impl_->reconciler_->Apply(std::move(desired));
      }
      // Before containerd is reachable the stored spec is picked up by
      // OnConnected, which reads stored_.
      done(std::move(result));
    });
  });
}

void Agent::WaitConverged(const std::string& name, uint64_t generation,
                          std::function<void(Status)> done) {
  impl_->reconciler_->WaitConverged(name, generation, std::move(done));
}

void Agent::Delete(const std::string& name, bool wait, std::function<void(Result<uint32_t>)> done) {
  uint32_t replicas = 0;
  bool exists = impl_->stored_.count(name) > 0;
  for (const auto& d : impl_->reconciler_->Deployments()) {
    if (d.name == name) {
      exists = true;
      replicas = static_cast<uint32_t>(d.replicas.size());
    }
  }
  if (!exists) return done(NotFoundError("deployment " + name + " not found"));
  // Accepted on the loop, removed from the store on the store lane: a deploy of the same name
  // that arrives after this delete starts again at generation 1 and is saved after the removal.
  impl_->stored_.erase(name);
  asio::post(impl_->store_lane_, [this, name, wait, replicas, done = std::move(done)]() mutable {
    Status removed;
    {
      std::lock_guard lock(impl_->store_mu_);
      removed = impl_->store_->Remove(name);
    }
    // Containers without a stored spec (an earlier failed delete) still go.
    if (removed.code() == StatusCode::kNotFound) removed = Status::Ok();
    asio::post(loop_, [this, name, wait, replicas, removed, done = std::move(done)]() mutable {
      if (!removed.ok()) {
        if (auto s = impl_->saved_.find(name);
            s != impl_->saved_.end() && impl_->stored_.count(name) == 0) {
          impl_->stored_[name] = s->second;
        }
        return done(removed.Wrap("delete " + name));
      }
      impl_->saved_.erase(name);
      impl_->log_.Info("deleting deployment {} ({} replica(s))", name, replicas);
      if (!wait) {
        impl_->reconciler_->Delete(name, [this](Status) { impl_->TrimHeap(); });
        return done(replicas);
      }
      impl_->reconciler_->Delete(name, [this, replicas, done = std::move(done)](Status s) mutable {
        impl_->TrimHeap();
        if (!s.ok()) return done(s);
        done(replicas);
      });
    });
  });
}

std::vector<reconcile::DeploymentView> Agent::Deployments() const {
  auto views = impl_->reconciler_->Deployments();
  // Stored but not yet known to the reconciler (containerd still away).
  for (const auto& [name, stored] : impl_->stored_) {
    bool known = false;
    for (const auto& v : views) known = known || v.name == name;
    if (!known) views.push_back({name, stored.generation, false, {}});
  }
  std::sort(views.begin(), views.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return views;
}

uint64_t Agent::WatchDeployments(std::function<void()> on_change) {
  return impl_->reconciler_->Subscribe(std::move(on_change));
}

void Agent::UnwatchDeployments(uint64_t id) { impl_->reconciler_->Unsubscribe(id); }

Result<std::vector<std::string>> Agent::ResolveTarget(const std::string& target) const {
  auto views = impl_->reconciler_->Deployments();
  std::vector<std::string> ids;
  for (const auto& d : views) {
    for (const auto& r : d.replicas) {
      if (r.id == target) return std::vector<std::string>{r.id};
    }
  }
  auto slash = target.find('/');
  std::set<std::string> deployments_with_service;
  for (const auto& d : views) {
    for (const auto& r : d.replicas) {
      bool match = slash != std::string::npos ? (d.name == target.substr(0, slash) &&
                                                 r.service == target.substr(slash + 1))
                                              : (r.service == target || d.name == target);
      if (match) {
        ids.push_back(r.id);
        if (r.service == target) deployments_with_service.insert(d.name);
      }
    }
  }
  if (deployments_with_service.size() > 1) {
    std::string names;
    for (const auto& n : deployments_with_service)
      names += (names.empty() ? "" : ", ") + n + "/" + target;
    return InvalidArgumentError("target " + target + " is ambiguous: " + names);
  }
  if (ids.empty()) return NotFoundError("no replica matches " + target);
  std::sort(ids.begin(), ids.end());
  return ids;
}

logs::LogHub& Agent::log_hub() { return impl_->hub_; }

Result<std::shared_ptr<exec::ExecSession>> Agent::StartExec(const std::string& target,
                                                            exec::ExecOptions options,
                                                            exec::ExecCallbacks callbacks) {
  auto ids = ResolveTarget(target);
  if (!ids.ok()) return ids.status();
  std::optional<reconcile::ReplicaView> chosen;
  for (const auto& d : impl_->reconciler_->Deployments()) {
    for (const auto& r : d.replicas) {
      if (r.state != "running" || std::find(ids->begin(), ids->end(), r.id) == ids->end()) continue;
      if (!chosen || r.replica < chosen->replica) chosen = r;
    }
  }
  if (!chosen) {
    return FailedPreconditionError(fmt::format("exec {}: no running replica", target));
  }
  auto paths = logs::IoPathsFor(config_, chosen->id);
  if (!paths.ok()) return paths.status();
  exec::ExecContext context{loop_, impl_->workers_, *impl_->client_, &impl_->log_};
  return exec::ExecSession::Start(context, paths->fifo_dir, chosen->id, std::move(options),
                                  std::move(callbacks));
}

NodeStatus Agent::CurrentStatus() const {
  NodeStatus s;
  s.containerd_reachable = impl_->containerd_up_;
  s.containerd_version = impl_->containerd_version_;
  s.containerd_error = impl_->containerd_error_;
  s.namespace_name = config_.namespace_name;
  s.snapshotter = config_.snapshotter;
  s.runtime = config_.runtime;
  s.socket = config_.agent_socket;
  s.started_at = impl_->started_at_;
  return s;
}

void Agent::CheckHealth(std::function<void(api::NodeHealth)> done) {
  asio::post(impl_->workers_, [this, done = std::move(done)]() mutable {
    auto children = ReadSupervisedChildren(config_.run_dir);
    asio::post(loop_, [this, children = std::move(children), done = std::move(done)]() mutable {
      done(api::JudgeNodeHealth(impl_->containerd_up_, impl_->containerd_error_, children));
    });
  });
}

void Agent::Scale(const std::string& deployment, const std::string& service, uint32_t replicas,
                  std::function<void(Result<ScaleResult>)> done) {
  auto stored = impl_->stored_.find(deployment);
  if (stored == impl_->stored_.end()) {
    return done(NotFoundError("deployment " + deployment + " not found"));
  }
  ScaleResult result;
  result.generation = stored->second.generation;
  auto current =
      spec::ParseSpec(stored->second.spec_yaml, "stored spec of " + deployment, impl_->env_);
  if (current.ok()) {
    auto it = current.deployment->services.find(service);
    if (it == current.deployment->services.end()) {
      return done(NotFoundError("service " + service + " not found in deployment " + deployment));
    }
    result.previous_replicas = it->second.scale.replicas;
    if (result.previous_replicas == replicas) return done(result);
    // The rule `deploy` applies at scale.replicas, said about the count asked for.
    if (auto why = spec::ReplicasProblem(it->second, replicas)) {
      return done(InvalidArgumentError("scale " + deployment + "/" + service + ": " + *why));
    }
  }
  auto edited = spec::WithReplicas(stored->second.spec_yaml, service, replicas);
  if (!edited.ok()) {
    if (edited.status().code() == StatusCode::kNotFound) {
      return done(NotFoundError("service " + service + " not found in deployment " + deployment));
    }
    return done(edited.status().Wrap("scale " + deployment + "/" + service));
  }
  impl_->log_.Info("scaling {}/{} from {} to {} replica(s)", deployment, service,
                   result.previous_replicas, replicas);
  Deploy(std::move(*edited), "scale of " + deployment + "/" + service, false,
         [result, done = std::move(done)](Result<DeployResult> deployed) mutable {
           if (!deployed.ok()) return done(deployed.status());
           if (!deployed->problems.empty()) {
             return done(InvalidArgumentError(spec::FormatProblem(deployed->problems.front())));
           }
           result.generation = deployed->generation;
           done(result);
         });
}

void Agent::Inspect(const std::string& target,
                    std::function<void(Result<std::vector<ReplicaDetail>>)> done) {
  auto ids = ResolveTarget(target);
  if (!ids.ok()) return done(ids.status());
  std::vector<ReplicaDetail> details;
  for (const auto& d : impl_->reconciler_->Deployments()) {
    for (const auto& r : d.replicas) {
      if (std::find(ids->begin(), ids->end(), r.id) == ids->end()) continue;
      ReplicaDetail detail;
      detail.replica = r;
      if (auto paths = logs::IoPathsFor(config_, r.id); paths.ok()) detail.log_path = paths->log_file;
      detail.stop_grace_period = std::chrono::seconds(10);
      if (const spec::Service* s = impl_->reconciler_->ServiceSpec(r.deployment, r.service)) {
        detail.stop_grace_period = s->stop_grace_period;
      }
      detail.stop_signal = spec::SignalName(r.stop_signal);
      detail.health_history = impl_->health_.History(r.id);
      details.push_back(std::move(detail));
    }
  }
  // The containers' records (OCI spec, image, labels) come from containerd.
  asio::post(impl_->workers_,
             [this, details = std::move(details), done = std::move(done)]() mutable {
               for (ReplicaDetail& detail : details) {
                 auto record = impl_->client_->GetContainer(detail.replica.id);
                 if (record.ok()) detail.container = std::move(*record);
               }
               asio::post(loop_, [details = std::move(details), done = std::move(done)]() mutable {
                 done(std::move(details));
               });
             });
}

void Agent::ImportImage(std::string path, std::string name,
                        std::function<void(const ImportProgress&)> on_progress,
                        std::function<void(Result<std::vector<ImageInfo>>)> done) {
  asio::post(impl_->workers_, [this, path, name, on_progress, done = std::move(done)]() mutable {
    images::ImportOptions options;
    options.base_name = name;
    auto names = impl_->importer_.Import(
        path, options, [this, on_progress](const images::ProgressEvent& event) {
          auto progress = ToBlobProgress(event);
          if (!progress) return;
          asio::post(loop_, [on_progress, progress = *progress] { on_progress(progress); });
        });
    Result<std::vector<ImageInfo>> result = std::vector<ImageInfo>{};
    if (!names.ok()) {
      result = names.status();
    } else {
      std::vector<ImageInfo> infos;
      auto listed = impl_->image_store_.List();
      if (listed.ok()) {
        for (const auto& image : *listed) {
          if (std::find(names->begin(), names->end(), image.name) != names->end()) {
            infos.push_back(ToImageInfo(image));
          }
        }
      }
      result = std::move(infos);
    }
    asio::post(loop_, [result = std::move(result), done = std::move(done)]() mutable {
      done(std::move(result));
    });
  });
}

void Agent::PullImage(std::string reference, std::string platform,
                      std::function<void(const PullResolvedInfo&)> on_resolved,
                      std::function<void(const ImportProgress&)> on_progress,
                      std::function<void(Result<ImageInfo>)> done) {
  images::PullOptions options;
  options.concurrency = config_.pull_concurrency;
  if (!platform.empty()) {
    auto parsed = images::ParsePlatform(platform);
    if (!parsed.ok()) return done(parsed.status());
    options.platform = *parsed;
  }
  asio::post(impl_->workers_, [this, reference, options, on_resolved, on_progress,
                               done = std::move(done)]() mutable {
    auto resolved = [this, on_resolved](const images::PullResolved& r) {
      PullResolvedInfo info{r.name, r.target.digest, images::PlatformString(r.platform), {}};
      for (const auto& blob : r.blobs) {
        info.blobs.push_back({blob.digest, blob.media_type, blob.size, 0, 1});
      }
      asio::post(loop_, [on_resolved, info] { on_resolved(info); });
    };
    auto progress = [this, on_progress](const images::ProgressEvent& event) {
      if (auto p = ToBlobProgress(event)) {
        asio::post(loop_, [on_progress, p = *p] { on_progress(p); });
      }
    };
    auto image = impl_->puller_.Pull(reference, options, resolved, progress);
    Result<ImageInfo> result = ImageInfo{};
    if (!image.ok()) {
      result = image.status();
    } else {
      result = ImageInfo{image->record.name, image->record.target.digest,
                         image->record.target.media_type, image->size, image->unpacked};
    }
    asio::post(loop_, [result = std::move(result), done = std::move(done)]() mutable {
      done(std::move(result));
    });
  });
}

void Agent::ListImages(std::function<void(Result<std::vector<ImageInfo>>)> done) {
  asio::post(impl_->workers_, [this, done = std::move(done)]() mutable {
    auto listed = impl_->image_store_.List();
    Result<std::vector<ImageInfo>> result = std::vector<ImageInfo>{};
    if (!listed.ok()) {
      result = listed.status();
    } else {
      std::vector<ImageInfo> infos;
      for (const auto& image : *listed) {
        infos.push_back(ToImageInfo(image));
      }
      result = std::move(infos);
    }
    asio::post(loop_, [result = std::move(result), done = std::move(done)]() mutable {
      done(std::move(result));
    });
  });
}

void Agent::CountImages(std::function<void(size_t)> done) {
  if (!impl_->containerd_up_) return done(impl_->images_known_);
  ListImages([this, done = std::move(done)](Result<std::vector<ImageInfo>> images) {
    if (images.ok()) impl_->images_known_ = images->size();
    done(impl_->images_known_);
  });
}

void Agent::RemoveImage(std::string reference, bool force, std::function<void(zlayer::Status)> done) {
  if (!force) {
    // Refuse to remove an image a desired deployment uses.
    std::string users;
    for (const auto& d : impl_->reconciler_->Deployments()) {
      for (const auto& r : d.replicas) {
        if (r.image == reference) users += (users.empty() ? "" : ", ") + d.name + "/" + r.service;
      }
    }
    if (!users.empty()) {
      return done(FailedPreconditionError("image " + reference + " is used by " + users +
                                          " (use --force to remove it anyway)"));
    }
  }
  asio::post(impl_->workers_, [this, reference, done = std::move(done)]() mutable {
    zlayer::Status removed = impl_->image_store_.Remove(reference);
    asio::post(loop_, [removed, done = std::move(done)] { done(removed); });
  });
}

}  // namespace zlayer::agent
