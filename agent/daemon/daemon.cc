#include "agent/daemon/daemon.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fstream>
#include <sstream>

#include "agent/acme/acme_manager.h"
#include "agent/api/agent_service.h"
#include "agent/api/socket_listener.h"
#include "agent/daemon/adapters.h"
#include "agent/daemon/certificate_catalog.h"
#include "agent/daemon/ingress_controller.h"
#include "agent/daemon/service_network.h"
#include "agent/images/image_store.h"
#include "agent/images/importer.h"
#include "agent/images/puller.h"
#include "agent/lifecycle/image_source.h"
#include "agent/lifecycle/replica_runtime.h"
#include "agent/logs/log_hub.h"
#include "agent/network/route_check.h"
#include "agent/node/node.h"
#include "agent/oci/platform.h"
#include "agent/reconcile/reconciler.h"
#include "agent/registry/curl_transport.h"
#include "agent/store/file_store.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/executors.h"
#include "common/ipv4_cidr.h"
#include "common/loop_lag.h"
#include "common/network_names.h"
#include "common/process_runner.h"
#include "common/sd_notify.h"
#include "common/shutdown.h"

namespace zlayer::agent::daemon {

namespace asio = boost::asio;

namespace {

// `name` when it is a path, else the first executable `name` on env's PATH;
// "" when there is none (the caller then does without it).
std::string FindProgram(const std::string& name, const Environment& env) {
  if (name.find('/') != std::string::npos) return name;
  auto path = env.find("PATH");
  std::string dirs = path != env.end()
                         ? path->second
                         : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t colon = std::min(dirs.find(':', start), dirs.size());
    std::string candidate = dirs.substr(start, colon - start) + "/" + name;
    if (colon > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = colon + 1;
  }
  return "";
}

// Public udp endpoints are DNAT'd by nftables; when they listen on a loopback
// address (tests run nodes side by side on 127.x.y.z), the kernel routes the
// translated datagrams only with route_localnet, as kube-proxy sets it for
// node ports on localhost. Once, at start.
void AllowLoopbackForwarding(const std::string& address, Logger& log) {
  if (!address.starts_with("127.")) return;
  const char* path = "/proc/sys/net/ipv4/conf/all/route_localnet";
  std::ofstream out(path);
  out << "1\n";
  out.flush();
  if (!out) log.Warn("public udp endpoints on {} need {} = 1: cannot write it", address, path);
}

}  // namespace

// Every part of the running agent, in construction order (destroyed in reverse).
class Daemon::Parts {
 public:
  Parts(NodeConfig config, Environment env, Logger& log)
      : config_(std::move(config)),
        env_(std::move(env)),
        log_(log),
        signals_(loop_, SIGTERM, SIGINT),
        watchdog_timer_(loop_),
        reconnect_timer_(loop_),
        client_(containerd::NewGrpcClient({config_.containerd_socket, config_.namespace_name})),
        image_store_(*client_, config_.snapshotter,
                     oci::HostPlatform().ok() ? *oci::HostPlatform() : oci::Platform{}),
        importer_(*client_, image_store_),
        transport_(registry::NewCurlTransport({})),
        registry_(*transport_, RegistryOptionsFrom(config_, env_, log_)),
        puller_(*client_, image_store_, registry_),
        image_source_(image_store_, puller_, config_.pull_concurrency, log_),
        catalog_(image_store_, importer_, puller_, config_.pull_concurrency),
        drains_(loop_, files_.get_executor(), config_, hub_, log_, LogRotation(env_, log_)),
        health_(loop_, *client_, config_, log_) {}

  ~Parts() {
    lifecycle_.join();
    images_.join();
    files_.join();
    queries_.join();
  }

  int Run();

 private:
  void Shutdown(const char* why);
  void FeedWatchdog(std::chrono::milliseconds period);
  // containerd connection: version, namespace and event stream on a pool, the
  // outcome on the loop; retried with back-off.
  void Connect();
  // Blocks until containerd confirms the stream: pool only.
  std::shared_ptr<containerd::EventSubscription> Subscribe();
  void OnConnected(const containerd::VersionInfo& version);
  void OnEventStreamEnded(const Status& status);
  void RetryConnect();
  // The replicas' networks: subnets and attachments as kept under the data dir.
  // ZLAYER_NETWORK_CIDR and ZLAYER_SERVICE_CIDR, parsed once, after checking that
  // neither shadows a network the node already reaches.
  struct Ranges {
    Ipv4Cidr network;
    Ipv4Cidr service;
  };
  Result<Ranges> CheckRanges() const;
  Result<std::unique_ptr<network::NetworkManager>> OpenNetwork(const Ipv4Cidr& range);

  NodeConfig config_;
  Environment env_;
  Logger& log_;
  asio::io_context loop_;
  asio::thread_pool lifecycle_{4};
  asio::thread_pool images_{2};
  asio::thread_pool files_{2};
  asio::thread_pool queries_{2};
  Executors executors_{loop_, lifecycle_, images_, files_, queries_};
  LoopClock clock_{loop_};
  asio::signal_set signals_;
  asio::steady_timer watchdog_timer_;
  asio::steady_timer reconnect_timer_;
  LoopLagMonitor loop_lag_{loop_};  // for Status: measured from start to the loop's end

  std::unique_ptr<containerd::Client> client_;
  images::ImageStore image_store_;
  images::Importer importer_;
  std::unique_ptr<registry::HttpTransport> transport_;
  registry::RegistryClient registry_;
  images::Puller puller_;
  lifecycle::StoreImageSource image_source_;
  StoreImageCatalog catalog_;
  logs::LogHub hub_;
  OutputDrains drains_;
  HealthChecks health_;
  std::unique_ptr<store::FileStore> store_;
  AsioProcessRunner process_runner_{loop_};  // CNI plugins, ip
  std::unique_ptr<network::NetworkManager> network_;
  std::unique_ptr<ReplicaNetworks> replica_networks_;
  std::unique_ptr<network::services::ServiceAddressAllocator> service_addresses_;
  std::unique_ptr<network::services::NftRuleApplier> rule_applier_;
  std::unique_ptr<network::HostsDirRecords> dns_names_;
  std::unique_ptr<lifecycle::ReplicaRuntime> runtime_;
  std::unique_ptr<reconcile::Reconciler> reconciler_;
  std::unique_ptr<ServiceNetwork> service_network_;  // subscribed to reconciler_
  std::unique_ptr<ingress::SocketHaproxyCommands> haproxy_admin_;
  std::unique_ptr<ingress::SocketHaproxyCommands> haproxy_master_;
  std::unique_ptr<acme::AcmeManager> acme_;            // with ZLAYER_ACME_EMAIL
  std::unique_ptr<IngressController> ingress_;         // subscribed to reconciler_
  std::unique_ptr<IngressCertificates> certificates_;  // for zlayer certs and routes
  std::unique_ptr<node::Node> node_;
  std::shared_ptr<containerd::EventSubscription> events_;  // subscribed on a pool

  std::unique_ptr<api::AgentService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<api::SocketListener> listener_;

  // On the loop only.
  std::chrono::milliseconds reconnect_delay_{100};
  bool stopping_ = false;
  int exit_code_ = 0;
};

Result<Daemon::Parts::Ranges> Daemon::Parts::CheckRanges() const {
  auto range = Ipv4Cidr::Parse(config_.network_cidr);
  if (!range.ok()) return range.status().Wrap("ZLAYER_NETWORK_CIDR");
  auto service_range = Ipv4Cidr::Parse(config_.service_cidr);
  if (!service_range.ok()) return service_range.status().Wrap("ZLAYER_SERVICE_CIDR");
  std::ifstream route_file("/proc/net/route");
  std::stringstream route_text;
  route_text << route_file.rdbuf();
  const std::vector<network::Route> routes = network::ParseProcRoutes(route_text.str());
  const std::pair<const char*, const Ipv4Cidr*> ranges[] = {
      {"ZLAYER_NETWORK_CIDR", &*range}, {"ZLAYER_SERVICE_CIDR", &*service_range}};
  for (const auto& [name, cidr] : ranges) {
    if (auto route = network::OverlappingRoute(*cidr, routes, BridgePrefix(*range))) {
      return InvalidArgumentError(fmt::format(
          "{}={} overlaps the node's route {}: choose a range the node does not reach yet", name,
          cidr->ToString(), *route));
    }
  }
  return Ranges{*range, *service_range};
}

Result<std::unique_ptr<network::NetworkManager>> Daemon::Parts::OpenNetwork(const Ipv4Cidr& range) {
  auto subnets =
      network::FileSubnetAllocator::Open(config_.data_dir + "/network/subnets.json", range);
  if (!subnets.ok()) return subnets.status();
  network::NetworkManagerOptions options;
  options.data_dir = config_.data_dir;
  options.run_dir = config_.run_dir;
  options.range = range;
  return network::NetworkManager::Open(loop_, files_, process_runner_, std::move(*subnets),
                                       std::move(options), log_);
}

int Daemon::Parts::Run() {
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
  auto ranges = CheckRanges();
  if (!ranges.ok()) {
    log_.Error("container networking: {}", ranges.status().message());
    return 1;
  }
  auto network = OpenNetwork(ranges->network);
  if (!network.ok()) {
    log_.Error("container networking: {}", network.status().message());
    return 1;
  }
  network_ = std::move(*network);
  replica_networks_ = std::make_unique<ReplicaNetworks>(*network_);
  runtime_ =
      std::make_unique<lifecycle::ReplicaRuntime>(*client_, image_source_, config_, *facts, log_);
  reconcile::Reconciler::Options options;
  options.restart_unhealthy = RestartUnhealthy(env_, log_);
  reconciler_ =
      std::make_unique<reconcile::Reconciler>(loop_, lifecycle_, images_, clock_, *runtime_,
                                              drains_, health_, *replica_networks_, log_, options);
  auto service_addresses = network::services::FileServiceAddressAllocator::Open(
      config_.data_dir + "/network/services.json", ranges->service);
  if (!service_addresses.ok()) {
    log_.Error("service addresses: {}", service_addresses.status().message());
    return 1;
  }
  service_addresses_ = std::move(*service_addresses);
  AllowLoopbackForwarding(config_.ingress_address, log_);
  rule_applier_ = std::make_unique<network::services::NftRuleApplier>(loop_, process_runner_);
  dns_names_ = std::make_unique<network::HostsDirRecords>(DnsHostsDir(config_));
  service_network_ = std::make_unique<ServiceNetwork>(
      loop_, files_, clock_, *reconciler_, *network_, *service_addresses_, *rule_applier_,
      *dns_names_, NftTableName(ranges->network), config_.ingress_address, log_);
  const IngressPaths ingress_paths = IngressPathsFor(config_);
  haproxy_admin_ =
      std::make_unique<ingress::SocketHaproxyCommands>(loop_, ingress_paths.admin_socket);
  haproxy_master_ =
      std::make_unique<ingress::SocketHaproxyCommands>(loop_, ingress_paths.master_socket);
  IngressSettings ingress_settings;
  ingress_settings.paths = ingress_paths;
  ingress_settings.bind_address = config_.ingress_address;
  ingress_settings.certificates = {UserCertsDir(config_), AcmeDir(config_) + "/certificates",
                                   config_.data_dir + "/ingress/self-signed",
                                   ingress_paths.certs_dir};
  ingress_settings.haproxy_program = FindProgram(config_.haproxy_bin, env_);
  if (!config_.acme_email.empty()) {
    acme::AcmeSettings acme_settings;
    acme_settings.lego_program = FindProgram(config_.lego_bin, env_);
    acme_settings.email = config_.acme_email;
    acme_settings.directory_url = config_.acme_directory;
    acme_settings.ca_bundle = config_.acme_ca_bundle;
    acme_settings.data_dir = AcmeDir(config_);
    acme_settings.challenge_address = config_.acme_challenge_address;
    acme_settings.renew_before = std::chrono::ceil<std::chrono::hours>(config_.acme_renew_before);
    acme_settings.first_retry = config_.acme_retry;
    if (acme_settings.lego_program.empty()) {
      log_.Error(
          "ZLAYER_ACME_EMAIL is set but the ACME client {} is not on PATH: https hosts "
          "keep self-signed certificates",
          config_.lego_bin);
    } else {
      log_.Info("acme: certificates from {} for {}, challenges answered on {}",
                acme_settings.directory_url, acme_settings.email, acme_settings.challenge_address);
      ingress_settings.acme_challenge_address = acme_settings.challenge_address;
      acme_ = std::make_unique<acme::AcmeManager>(loop_, files_, clock_, process_runner_,
                                                  std::move(acme_settings), log_);
    }
  }
  ingress_ = std::make_unique<IngressController>(loop_, files_, clock_, *reconciler_,
                                                 process_runner_, *haproxy_admin_, *haproxy_master_,
                                                 ingress_settings, log_);
  if (acme_) {
    // The https hosts the user has no certificate for are ACME's.
    ingress_->OnCertificates([this](const std::vector<ingress::CertificateEntry>& entries) {
      acme_->SetHosts(AcmeHosts(entries));
    });
  }

  certificates_ = std::make_unique<IngressCertificates>(*ingress_, acme_.get());
  replica_networks_->SetDrainer(
      [this](const std::string& id, std::chrono::steady_clock::time_point deadline,
             std::function<void()> done) { ingress_->Drain(id, deadline, std::move(done)); });
  node_ = std::make_unique<node::Node>(
      node::NodeParts{executors_, config_, env_, log_, *store_, *reconciler_, health_, catalog_,
                      *client_, *client_, hub_, &loop_lag_, certificates_.get()});

  // The API serves from the start: List/Status/Health answer while containerd
  // is still coming up.
  service_ = std::make_unique<api::AgentService>(*node_);
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

  // Desired state first (the reconciler starts with it), then containerd.
  node_->Load([this](Status) {
    if (!stopping_) Connect();
  });

  // Watchdog pings come from the loop: if the loop is stuck, they stop.
  if (auto interval = SdWatchdogInterval(env_)) {
    FeedWatchdog(std::chrono::duration_cast<std::chrono::milliseconds>(*interval) / 3);
  }
  loop_lag_.Start();
  loop_.run();
  loop_lag_.Stop();
  return exit_code_;
}

void Daemon::Parts::FeedWatchdog(std::chrono::milliseconds period) {
  (void)SdNotify(env_, "WATCHDOG=1");
  watchdog_timer_.expires_after(period);
  watchdog_timer_.async_wait([this, period](boost::system::error_code ec) {
    if (!ec) FeedWatchdog(period);
  });
}

void Daemon::Parts::Connect() {
  struct Outcome {
    Result<containerd::VersionInfo> version = containerd::VersionInfo{};
    Status ns;
    std::shared_ptr<containerd::EventSubscription> events;
  };
  RunOff(
      queries_, loop_,
      [this] {
        Outcome outcome;
        outcome.version = client_->Version();
        outcome.ns = outcome.version.ok()
                         ? client_->EnsureNamespace(
                               {{containerd::kLabelDefaultSnapshotter, config_.snapshotter},
                                {containerd::kLabelDefaultRuntime, config_.runtime}})
                         : outcome.version.status();
        // Subscribing blocks until containerd confirms the stream, so it happens
        // here, before the loop acts on anything (subscribe first).
        if (outcome.version.ok() && outcome.ns.ok()) outcome.events = Subscribe();
        return outcome;
      },
      [this](Outcome outcome) {
        if (stopping_) return;
        if (!outcome.version.ok() || !outcome.ns.ok()) {
          node_->OnContainerdDown(
              (outcome.version.ok() ? outcome.ns : outcome.version.status()).message());
          log_.Warn("containerd not reachable at {}: {}; retrying in {}", config_.containerd_socket,
                    node_->CurrentStatus().containerd_error, FormatDuration(reconnect_delay_));
          RetryConnect();
          return;
        }
        events_ = outcome.events;
        OnConnected(*outcome.version);
      });
}

void Daemon::Parts::RetryConnect() {
  reconnect_timer_.expires_after(reconnect_delay_);
  reconnect_delay_ = std::min(reconnect_delay_ * 2, std::chrono::milliseconds(5000));
  reconnect_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) Connect();
  });
}

std::shared_ptr<containerd::EventSubscription> Daemon::Parts::Subscribe() {
  return client_->SubscribeEvents(
      {"topic==\"/tasks/exit\"", "topic==\"/tasks/oom\""},
      [this](const containerd::Event& event) {
        asio::post(loop_, [this, event] {
          if (!node_->reconciling()) return;
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

void Daemon::Parts::OnConnected(const containerd::VersionInfo& version) {
  reconnect_delay_ = std::chrono::milliseconds(100);
  log_.Info("connected to containerd {} at {} (namespace {})", version.version,
            config_.containerd_socket, config_.namespace_name);
  if (node_->OnContainerdUp(version.version)) {
    service_network_->Start();  // publishes after the reconciler's first plan
    ingress_->Start();          // likewise
    if (acme_) acme_->Start();  // its hosts come from the ingress's certificates
    (void)SdNotify(env_, "READY=1\nSTATUS=serving; containerd " + version.version);
    log_.Info("ready");
  }
}

void Daemon::Parts::OnEventStreamEnded(const Status& status) {
  if (stopping_) return;
  events_.reset();
  std::string why = status.ok() ? "event stream ended" : status.message();
  node_->OnContainerdDown(why);
  log_.Warn("lost containerd ({}); reconnecting", why);
  reconnect_timer_.expires_after(reconnect_delay_);
  reconnect_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) Connect();
  });
}

void Daemon::Parts::Shutdown(const char* why) {
  if (stopping_) return;
  stopping_ = true;
  (void)SdNotify(env_, "STOPPING=1");
  if (listener_) listener_->Stop();
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
  std::vector<reconcile::StopRequest> requests;
  if (node_ && node_->reconciling() && node_->CurrentStatus().containerd_reachable) {
    requests = reconciler_->PrepareShutdown(cap);
  }
  log_.Info("stopping ({}): stopping {} container(s), grace at most {}", why, requests.size(),
            FormatDuration(cap));
  auto stopped = [this, n = requests.size()](Status status) {
    if (!status.ok()) {
      log_.Warn("stopping containers: {}", status.message());
    } else if (n > 0) {
      log_.Info("{} container(s) stopped", n);
    }
    // Only now: the stops ended on the stream's exit events.
    if (events_) events_->Cancel();
    loop_.stop();
  };
  if (requests.empty()) {
    stopped(Status::Ok());
  } else {
    reconciler_->StopAll(std::move(requests), std::move(stopped));
  }
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

Daemon::Daemon(NodeConfig config, Environment env, Logger& log)
    : parts_(std::make_unique<Parts>(std::move(config), std::move(env), log)) {}

Daemon::~Daemon() = default;

int Daemon::Run() { return parts_->Run(); }

}  // namespace zlayer::agent::daemon
