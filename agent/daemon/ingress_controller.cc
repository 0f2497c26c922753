#include "agent/daemon/ingress_controller.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <filesystem>

#include "agent/daemon/service_network.h"
#include "agent/ingress/route_table.h"
#include "common/durable_file.h"
#include "common/executors.h"

namespace zlayer::agent::daemon {
namespace {

using std::chrono::steady_clock;

// How long a replica that left rotation on its own (unready, unhealthy) may
// finish its requests before its server is deleted anyway.
constexpr std::chrono::seconds kUnreadyDrain{30};
// A reload's bound: the new worker must be running by then.
constexpr std::chrono::seconds kReloadDeadline{15};
constexpr std::chrono::seconds kCertificatePoll{2};

bool HasHttps(const ingress::ProxyState& state) {
  for (const ingress::Listener& l : state.listeners) {
    if (l.kind == ingress::ListenerKind::kHttps) return true;
  }
  return false;
}

// The hosts the TLS listeners serve ("" for routes without a host), sorted.
std::vector<std::string> TlsHosts(const ingress::ProxyState& state) {
  std::set<std::string> hosts;
  for (const ingress::Listener& l : state.listeners) {
    if (l.kind != ingress::ListenerKind::kHttps) continue;
    for (const ingress::HttpRoute& r : l.routes) hosts.insert(r.host);
  }
  return {hosts.begin(), hosts.end()};
}

const ingress::ProxyBackend* FindBackend(const ingress::ProxyState& state,
                                         const std::string& name) {
  for (const ingress::ProxyBackend& b : state.backends) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

const ingress::ProxyServer* FindServer(const ingress::ProxyBackend& backend,
                                       const std::string& name) {
  for (const ingress::ProxyServer& s : backend.servers) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// Writes the maps and the configuration (to `config_path`). Blocking.
Status WriteProxyFiles(const IngressPaths& paths, const ingress::RenderedHaproxy& rendered,
                       const std::string& config_path) {
  std::error_code ec;
  std::filesystem::create_directories(paths.maps_dir, ec);
  if (ec) return InternalError("create " + paths.maps_dir + ": " + ec.message());
  for (const auto& [name, content] : rendered.maps) {
    if (Status s = WriteFileDurably(paths.maps_dir + "/" + name, content); !s.ok()) return s;
  }
  return WriteFileDurably(config_path, rendered.config);
}

}  // namespace

ingress::ProxyState DesiredProxyState(const reconcile::Reconciler& reconciler,
                                      std::set<std::string>& drained) {
  std::vector<spec::Deployment> specs;
  std::vector<ingress::IngressReplica> replicas;
  for (const reconcile::DeploymentView& d : reconciler.Deployments()) {
    spec::Deployment deployment;
    deployment.name = d.name;
    for (const reconcile::ServiceView& s : d.services) {
      if (const spec::Service* service = reconciler.ServiceSpec(d.name, s.name)) {
        deployment.services[s.name] = *service;
      }
    }
    if (!deployment.services.empty()) specs.push_back(std::move(deployment));
    for (const reconcile::ReplicaView& r : d.replicas) {
      bool ready = ReadyForTraffic(r);
      if (drained.count(r.id)) {
        if (!ready) drained.erase(r.id);
        ready = false;
      }
      replicas.push_back({r.id, d.name, r.service, r.address, ready});
    }
  }
  return ingress::BuildProxyState(specs, replicas);
}

bool AddAcmeChallengeListener(ingress::ProxyState& state) {
  bool wanted = false;
  for (const ingress::Listener& l : state.listeners) {
    if (l.kind != ingress::ListenerKind::kHttps) continue;
    for (const ingress::HttpRoute& r : l.routes) {
      if (!r.host.empty() && !r.host.starts_with("*.")) wanted = true;
    }
  }
  auto at = std::find_if(
      state.listeners.begin(), state.listeners.end(),
      [](const ingress::Listener& l) { return l.port >= ingress::kAcmeChallengePort; });
  if (at != state.listeners.end() && at->port == ingress::kAcmeChallengePort) {
    return at->kind == ingress::ListenerKind::kHttp || !wanted;
  }
  if (wanted) {
    ingress::Listener challenges;
    challenges.port = ingress::kAcmeChallengePort;
    challenges.kind = ingress::ListenerKind::kHttp;
    state.listeners.insert(at, std::move(challenges));
  }
  return true;
}

bool SameStructure(const ingress::ProxyState& a, const ingress::ProxyState& b) {
  auto structure = [](ingress::ProxyState state) {
    for (ingress::ProxyBackend& backend : state.backends) backend.servers.clear();
    state.udp.clear();
    return state;
  };
  return structure(a) == structure(b);
}

IngressController::IngressController(boost::asio::io_context& loop, boost::asio::thread_pool& files,
                                     Clock& clock, reconcile::Reconciler& reconciler,
                                     ProcessRunner& processes, ingress::HaproxyCommands& admin,
                                     ingress::HaproxyCommands& master, IngressSettings settings,
                                     Logger& log)
    : loop_(loop),
      files_(files),
      clock_(clock),
      reconciler_(reconciler),
      processes_(processes),
      admin_(admin),
      master_(master),
      settings_(std::move(settings)),
      log_(log) {}

IngressController::~IngressController() {
  *alive_ = false;
  if (subscription_ != 0) reconciler_.Unsubscribe(subscription_);
}

void IngressController::Start() {
  subscription_ = reconciler_.Subscribe([this] {
    started_ = true;
    Schedule();
  });
  PollCertificates();
}

ingress::HaproxySettings IngressController::RenderSettings() const {
  return {settings_.paths, settings_.bind_address, settings_.acme_challenge_address};
}

void IngressController::Schedule() {
  if (scheduled_) return;
  scheduled_ = true;
  boost::asio::post(loop_, [this, alive = alive_] {
    if (!*alive) return;
    scheduled_ = false;
    Publish();
  });
}

void IngressController::Publish() {
  if (!started_) return;
  if (busy_) {
    again_ = true;
    return;
  }
  ingress::ProxyState desired = DesiredProxyState(reconciler_, drained_);
  if (!settings_.acme_challenge_address.empty() && !AddAcmeChallengeListener(desired) &&
      !port80_taken_logged_) {
    port80_taken_logged_ = true;
    log_.Warn(
        "ingress: port 80 is a tcp or https endpoint's, so ACME's HTTP-01 challenges cannot be "
        "answered there: https hosts keep self-signed certificates");
  }
  const bool certificates_current =
      !HasHttps(desired) || certificate_signature_ == applied_signature_;
  if (applied_ && SameStructure(*applied_, desired) && certificates_current) {
    if (!(*applied_ == desired)) ApplyServers(std::move(desired));
    return;
  }
  ApplyAll(std::move(desired));
}

void IngressController::ApplyServers(ingress::ProxyState desired) {
  const steady_clock::time_point drain_deadline = clock_.SteadyNow() + kUnreadyDrain;
  for (const ingress::ProxyBackend& want : desired.backends) {
    const ingress::ProxyBackend* have = FindBackend(*applied_, want.name);
    if (have == nullptr) continue;  // SameStructure: cannot happen
    for (const ingress::ProxyServer& server : have->servers) {
      const ingress::ProxyServer* kept = FindServer(want, server.name);
      if (kept != nullptr && !(*kept == server)) {
        // Same replica, new address: rebuild from the files rather than
        // race a delete against an add of the same name.
        applied_.reset();
        return ApplyAll(std::move(desired));
      }
      if (kept == nullptr) {
        log_.Debug("ingress: {} leaves {}", server.name, want.name);
        RemoveServer(want.name, server.name, drain_deadline);
      }
    }
    for (const ingress::ProxyServer& server : want.servers) {
      if (FindServer(*have, server.name) != nullptr) continue;
      log_.Debug("ingress: {} joins {}", server.name, want.name);
      ingress::AddServer(admin_, want.name, server,
                         [this, alive = alive_, backend = want.name, name = server.name](Status s) {
                           if (!*alive || s.ok()) return;
                           log_.Warn("ingress: add {} to {}: {}; reloading", name, backend,
                                     s.message());
                           applied_.reset();
                           Schedule();
                         });
    }
  }
  applied_ = std::move(desired);
  PersistConfig();
}

void IngressController::RemoveServer(const std::string& backend, const std::string& server,
                                     steady_clock::time_point deadline) {
  ++removing_[server];
  ingress::RemoveServer(
      admin_, loop_, backend, server, deadline, [this, alive = alive_, backend, server](Status s) {
        if (!*alive) return;
        if (!s.ok() && s.code() != StatusCode::kDeadlineExceeded) {
          log_.Warn("ingress: remove {} from {}: {}; reloading", server, backend, s.message());
          applied_.reset();
          Schedule();
        }
        if (--removing_[server] > 0) return;
        removing_.erase(server);
        if (drains_after_reload_.count(server)) return;  // FinishReload goes on
        auto waiters = drain_waiters_.extract(server);
        if (waiters.empty()) return;
        for (auto& done : waiters.mapped()) done();
      });
}

bool IngressController::TakeOutOfRotation(const std::string& id,
                                          steady_clock::time_point deadline) {
  if (!applied_) return false;
  bool removed = false;
  for (ingress::ProxyBackend& backend : applied_->backends) {
    auto it = std::find_if(backend.servers.begin(), backend.servers.end(),
                           [&](const ingress::ProxyServer& s) { return s.name == id; });
    if (it == backend.servers.end()) continue;
    backend.servers.erase(it);
    RemoveServer(backend.name, id, deadline);
    removed = true;
  }
  return removed;
}

void IngressController::Drain(const std::string& id, steady_clock::time_point deadline,
                              std::function<void()> done) {
  drained_.insert(id);
  if (TakeOutOfRotation(id, deadline)) PersistConfig();
  if (reloading_) {
    // The configuration being loaded may still name `id`: take it out of the
    // new worker too before the stop signal (FinishReload).
    drains_after_reload_[id] = deadline;
    drain_waiters_[id].push_back(std::move(done));
    return;
  }
  if (removing_.count(id) == 0) {
    boost::asio::post(loop_, std::move(done));
    return;
  }
  drain_waiters_[id].push_back(std::move(done));
}

void IngressController::FinishReload() {
  reloading_ = false;
  auto drains = std::exchange(drains_after_reload_, {});
  for (const auto& [id, deadline] : drains) {
    if (TakeOutOfRotation(id, deadline)) persist_again_ = true;
    if (removing_.count(id) > 0) continue;  // its waiters run when the removal ends
    auto waiters = drain_waiters_.extract(id);
    if (waiters.empty()) continue;
    for (auto& done : waiters.mapped()) boost::asio::post(loop_, std::move(done));
  }
  Finish();
}

void IngressController::PersistConfig() {
  if (busy_) {
    persist_again_ = true;
    return;
  }
  if (!applied_) return;
  busy_ = true;
  auto rendered = std::make_shared<ingress::RenderedHaproxy>(
      ingress::RenderHaproxy(*applied_, RenderSettings()));
  RunOff(
      files_, loop_,
      [paths = settings_.paths, rendered] {
        return WriteProxyFiles(paths, *rendered, paths.config_file);
      },
      [this, alive = alive_](Status s) {
        if (!*alive) return;
        if (!s.ok()) log_.Warn("ingress: {}", s.message());
        Finish();
      });
}

void IngressController::ApplyAll(ingress::ProxyState desired) {
  auto rendered =
      std::make_shared<ingress::RenderedHaproxy>(ingress::RenderHaproxy(desired, RenderSettings()));
  if (rendered->config == failed_config_) return;  // logged when it failed
  busy_ = true;
  reloading_ = true;
  persist_again_ = false;  // this writes everything
  const bool https = HasHttps(desired);
  std::vector<std::string> hosts = TlsHosts(desired);
  std::string signature = certificate_signature_;
  struct Written {
    Status status;
    std::vector<ingress::CertificateEntry> certificates;
    std::vector<std::string> skipped;
  };
  RunOff(
      files_, loop_,
      [paths = settings_.paths, dirs = settings_.certificates, rendered, https,
       hosts = std::move(hosts), now = clock_.WallNow()] {
        Written written;
        if (https) {
          auto set = ingress::PrepareCertificates(hosts, dirs, now);
          if (!set.ok()) {
            written.status = set.status();
            return written;
          }
          written.certificates = set->entries;
          written.skipped = set->skipped;
          written.status = WriteFileDurably(paths.crt_list, set->crt_list);
          if (!written.status.ok()) return written;
        }
        written.status = WriteProxyFiles(paths, *rendered, paths.config_file + ".new");
        return written;
      },
      [this, alive = alive_, desired = std::move(desired), rendered,
       signature = std::move(signature)](Written written) mutable {
        if (!*alive) return;
        for (const ingress::CertificateEntry& c : written.certificates) {
          if (!c.note.empty()) log_.Info("ingress: certificate for {}: {}", c.host, c.note);
        }
        for (const std::string& note : written.skipped) log_.Warn("ingress: {}", note);
        if (written.status.ok()) loading_certificates_ = std::move(written.certificates);
        if (!written.status.ok()) {
          log_.Error("ingress: {}", written.status.message());
          retry_ = clock_.At(clock_.SteadyNow() + std::chrono::seconds(2), [this] { Schedule(); });
          return FinishReload();
        }
        auto install = [this, alive, desired = std::move(desired),
                        signature = std::move(signature)]() mutable {
          RunOff(
              files_, loop_,
              [path = settings_.paths.config_file]() -> Status {
                std::error_code ec;
                std::filesystem::rename(path + ".new", path, ec);
                if (ec) return InternalError("rename " + path + ".new: " + ec.message());
                return Status::Ok();
              },
              [this, alive, desired = std::move(desired),
               signature = std::move(signature)](Status s) mutable {
                if (!*alive) return;
                if (!s.ok()) {
                  log_.Error("ingress: {}", s.message());
                  return FinishReload();
                }
                Reload(std::move(desired), std::move(signature));
              });
        };
        if (settings_.haproxy_program.empty()) return install();
        ProcessRequest check;
        check.program = settings_.haproxy_program;
        check.args = {"-c", "-q", "-f", settings_.paths.config_file + ".new"};
        check.timeout = std::chrono::seconds(20);
        processes_.Run(std::move(check), [this, alive, rendered, install = std::move(install)](
                                             Result<ProcessResult> result) mutable {
          if (!*alive) return;
          if (result.ok() && result->exit_code == 0) return install();
          log_.Error(
              "ingress: HAProxy refuses the new configuration, keeping the current one: {}",
              result.ok() ? result->stderr_data + result->stdout_data : result.status().message());
          failed_config_ = rendered->config;
          FinishReload();
        });
      });
}

void IngressController::Reload(ingress::ProxyState desired, std::string signature) {
  size_t servers = 0;
  for (const ingress::ProxyBackend& b : desired.backends) servers += b.servers.size();
  log_.Info("ingress: reloading HAProxy: {} listener(s), {} backend(s), {} server(s)",
            desired.listeners.size(), desired.backends.size(), servers);
  ingress::Reload(master_, loop_, clock_.SteadyNow() + kReloadDeadline,
                  [this, alive = alive_, desired = std::move(desired),
                   signature = std::move(signature)](Status s) mutable {
                    if (!*alive) return;
                    if (s.ok()) {
                      retry_delay_ = std::chrono::seconds(1);
                      applied_ = std::move(desired);
                      applied_signature_ = std::move(signature);
                      // Served now (an ACME client may be validated through
                      // this configuration's port 80 from here on).
                      certificates_ = std::move(loading_certificates_);
                      if (on_certificates_) on_certificates_(certificates_);
                      return FinishReload();
                    }
                    // Not running (yet): it reads the files when it starts; try
                    // again, less and less often, in case it was starting just now.
                    if (s.code() != StatusCode::kUnavailable) {
                      log_.Warn("ingress: reload: {}", s.message());
                    }
                    retry_ = clock_.At(clock_.SteadyNow() + retry_delay_, [this] { Schedule(); });
                    retry_delay_ = std::min<std::chrono::nanoseconds>(retry_delay_ * 2,
                                                                      std::chrono::seconds(30));
                    FinishReload();
                  });
}

void IngressController::Finish() {
  busy_ = false;
  if (persist_again_) {
    persist_again_ = false;
    PersistConfig();
    if (busy_) {
      again_ = true;
      return;
    }
  }
  if (again_) {
    again_ = false;
    Schedule();
  }
}

void IngressController::PollCertificates() {
  RunOff(
      files_, loop_,
      [dirs = settings_.certificates] { return ingress::CertificateDirsSignature(dirs); },
      [this, alive = alive_](std::string signature) {
        if (!*alive) return;
        if (signature != certificate_signature_) {
          certificate_signature_ = std::move(signature);
          if (applied_ && HasHttps(*applied_)) Schedule();
        }
        poll_ = clock_.At(clock_.SteadyNow() + kCertificatePoll, [this] { PollCertificates(); });
      });
}

}  // namespace zlayer::agent::daemon
