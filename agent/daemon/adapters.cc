#include "agent/daemon/adapters.h"

#include <cstdlib>

#include "agent/health/prober_factory.h"
#include "agent/logs/paths.h"
#include "agent/oci/platform.h"
#include "agent/spec/size.h"
#include "common/executors.h"

namespace zlayer::agent::daemon {

namespace asio = boost::asio;

// ---- OutputDrains ---------------------------------------------------------------

OutputDrains::OutputDrains(asio::io_context& loop, asio::any_io_executor files,
                           const NodeConfig& config, logs::LogHub& hub, Logger& log,
                           logs::LogFileOptions rotation)
    : loop_(loop),
      files_(std::move(files)),
      config_(config),
      hub_(hub),
      log_(log),
      rotation_(rotation) {}

template <typename Work, typename Done>
void OutputDrains::OnLane(const std::string& id, Work work, Done done) {
  auto lane = lanes_.find(id);
  if (lane == lanes_.end()) lane = lanes_.emplace(id, Lane{asio::make_strand(files_)}).first;
  ++lane->second.pending;
  RunOff(lane->second.strand, loop_, std::move(work),
         [this, id, done = std::move(done)](auto&&... result) mutable {
           done(std::forward<decltype(result)>(result)...);
           auto it = lanes_.find(id);
           if (--it->second.pending == 0) lanes_.erase(it);
         });
}

void OutputDrains::Attach(const std::string& id, std::function<void(Status)> done) {
  if (open_.count(id)) return asio::post(loop_, [done = std::move(done)] { done(Status::Ok()); });
  auto [preparing, first] = preparing_.try_emplace(id);
  preparing->second.waiting.push_back(std::move(done));
  if (!first) return;
  const uint64_t attempt = preparing->second.attempt = ++attempts_;
  auto paths = logs::IoPathsFor(config_, id);
  if (!paths.ok()) return Finish(id, paths.status());
  OnLane(
      id,
      [paths = *paths, rotation = rotation_] {
        return logs::ContainerIo::Prepare(paths, rotation);
      },
      [this, id, attempt](Result<logs::PreparedContainerIo> prepared) {
        auto it = preparing_.find(id);
        if (it == preparing_.end() || it->second.attempt != attempt) return;  // detached
        if (!prepared.ok()) return Finish(id, prepared.status());
        logs::ContainerIoOptions options;
        options.drain.logger = &log_;
        options.file = rotation_;
        auto io = logs::ContainerIo::Open(loop_, std::move(*prepared), hub_, options);
        if (!io.ok()) return Finish(id, io.status());
        open_[id] = std::move(*io);
        Finish(id, Status::Ok());
      });
}

void OutputDrains::Finish(const std::string& id, const Status& status) {
  auto it = preparing_.find(id);
  if (it == preparing_.end()) return;
  std::vector<std::function<void(Status)>> waiting = std::move(it->second.waiting);
  preparing_.erase(it);
  for (auto& done : waiting) done(status);
}

void OutputDrains::Detach(const std::string& id, bool remove_logs) {
  Finish(id, Status(StatusCode::kAborted,
                    "container " + id + ": output detached while it was being opened"));
  auto it = open_.find(id);
  if (it != open_.end()) {
    it->second->Close();
    open_.erase(it);
  }
  if (!remove_logs) return;
  auto paths = logs::IoPathsFor(config_, id);
  if (!paths.ok()) return;
  // On the container's lane: after a preparation still running, which would otherwise
  // create the files again once they are removed.
  OnLane(
      id,
      [this, paths = *paths] {
        if (Status s = logs::RemoveContainerIo(paths); !s.ok()) log_.Warn("{}", s.message());
      },
      [] {});
}

// ---- HealthChecks ---------------------------------------------------------------

HealthChecks::HealthChecks(asio::io_context& loop, containerd::Client& client,
                           const NodeConfig& config, Logger& log)
    : prober_(health::NewProber(loop, client, probe_pool_, config.state_dir, log)),
      monitor_(loop, *prober_, log) {}

HealthChecks::~HealthChecks() { probe_pool_.join(); }

void HealthChecks::Watch(const std::string& id, const std::string& address,
                         const spec::Health& health, OnChange on_change) {
  health::ProbeTarget target{id};
  if (!address.empty()) target.host = address;
  monitor_.Watch(target, health,
                 [on_change = std::move(on_change)](const std::string&, health::HealthState state,
                                                    const health::CheckResult& last) {
                   on_change(state == health::HealthState::kHealthy     ? Verdict::kHealthy
                             : state == health::HealthState::kUnhealthy ? Verdict::kUnhealthy
                                                                        : Verdict::kStarting,
                             last.output);
                 });
}

void HealthChecks::Unwatch(const std::string& id) { monitor_.Unwatch(id); }

std::vector<reconcile::HealthCheckRecord> HealthChecks::History(const std::string& id) const {
  std::vector<reconcile::HealthCheckRecord> out;
  for (const health::CheckResult& r : monitor_.History(id)) {
    out.push_back({r.started, r.duration, r.ok, r.exit_code.value_or(0), r.output,
                   r.output.size() >= health::kMaxCheckOutput});
  }
  return out;
}

// ---- StoreImageCatalog ----------------------------------------------------------

namespace {

// A pull's or import's progress event as the API reports it (phases as
// zlayer.v1.BlobProgress.Phase); nullopt for events the API does not show.
std::optional<node::ImportProgress> ToBlobProgress(const images::ProgressEvent& event) {
  node::ImportProgress progress;
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

node::ImageInfo ToImageInfo(const images::ImageSummary& image) {
  return {image.name, image.digest, image.media_type, image.size, image.unpacked};
}

}  // namespace

StoreImageCatalog::StoreImageCatalog(images::ImageStore& store, images::Importer& importer,
                                     images::Puller& puller, int pull_concurrency)
    : store_(store), importer_(importer), puller_(puller), pull_concurrency_(pull_concurrency) {}

Result<std::vector<node::ImageInfo>> StoreImageCatalog::Import(const std::string& path,
                                                               const std::string& name,
                                                               const OnProgress& on_progress) {
  images::ImportOptions options;
  options.base_name = name;
  auto names = importer_.Import(path, options, [&on_progress](const images::ProgressEvent& event) {
    if (auto progress = ToBlobProgress(event)) on_progress(*progress);
  });
  if (!names.ok()) return names.status();
  std::vector<node::ImageInfo> infos;
  auto listed = store_.List();
  if (listed.ok()) {
    for (const auto& image : *listed) {
      if (std::find(names->begin(), names->end(), image.name) != names->end()) {
        infos.push_back(ToImageInfo(image));
      }
    }
  }
  return infos;
}

Status StoreImageCatalog::CheckPlatform(const std::string& platform) {
  if (platform.empty()) return Status::Ok();
  return oci::ParsePlatform(platform).status();
}

Result<node::ImageInfo> StoreImageCatalog::Pull(
    const std::string& reference, const std::string& platform,
    const std::function<void(const node::PullResolvedInfo&)>& on_resolved,
    const OnProgress& on_progress) {
  images::PullOptions options;
  options.concurrency = pull_concurrency_;
  if (!platform.empty()) {
    auto parsed = oci::ParsePlatform(platform);
    if (!parsed.ok()) return parsed.status();
    options.platform = *parsed;
  }
  auto resolved = [&on_resolved](const images::PullResolved& r) {
    node::PullResolvedInfo info{r.name, r.target.digest, oci::PlatformString(r.platform), {}};
    for (const auto& blob : r.blobs) {
      info.blobs.push_back({blob.digest, blob.media_type, blob.size, 0, 1});
    }
    on_resolved(info);
  };
  auto progress = [&on_progress](const images::ProgressEvent& event) {
    if (auto p = ToBlobProgress(event)) on_progress(*p);
  };
  auto image = puller_.Pull(reference, options, resolved, progress);
  if (!image.ok()) return image.status();
  return node::ImageInfo{image->record.name, image->record.target.digest,
                         image->record.target.media_type, image->size, image->unpacked};
}

Result<std::vector<node::ImageInfo>> StoreImageCatalog::List() {
  auto listed = store_.List();
  if (!listed.ok()) return listed.status();
  std::vector<node::ImageInfo> infos;
  for (const auto& image : *listed) infos.push_back(ToImageInfo(image));
  return infos;
}

Status StoreImageCatalog::Remove(const std::string& reference) { return store_.Remove(reference); }

// ---- settings -------------------------------------------------------------------

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

bool RestartUnhealthy(const Environment& env, Logger& log) {
  auto it = env.find("ZLAYER_RESTART_UNHEALTHY");
  if (it == env.end() || it->second.empty() || it->second == "true" || it->second == "1") {
    return true;
  }
  if (it->second == "false" || it->second == "0") return false;
  log.Warn("ZLAYER_RESTART_UNHEALTHY={}: expected true or false; using true", it->second);
  return true;
}

void ReplicaNetworks::Attach(const std::string& id, const std::string& deployment,
                             const spec::Service& service,
                             std::function<void(Result<reconcile::AttachedNetwork>)> done) {
  if (service.network_mode == spec::NetworkMode::kHost) return done(reconcile::AttachedNetwork{});
  const auto mode = service.network_mode == spec::NetworkMode::kNone
                        ? network::AttachMode::kLoopbackOnly
                        : network::AttachMode::kBridge;
  manager_.Attach(id, deployment, mode,
                  [done = std::move(done)](Result<network::Attachment> attached) {
                    if (!attached.ok()) return done(attached.status());
                    reconcile::AttachedNetwork network;
                    network.netns = attached->netns;
                    network.address = attached->address;
                    network.nameserver = attached->gateway;
                    done(std::move(network));
                  });
}

void ReplicaNetworks::Detach(const std::string& id, std::function<void(Status)> done) {
  manager_.Detach(id, std::move(done));
}

std::string ReplicaNetworks::AddressOf(const std::string& id) const {
  const network::Attachment* attachment = manager_.Find(id);
  return attachment == nullptr ? "" : attachment->address;
}

void ReplicaNetworks::ReleaseDeployment(const std::string& deployment) {
  manager_.ReleaseDeployment(deployment);
}

void ReplicaNetworks::Prune(std::set<std::string> containers, std::set<std::string> deployments) {
  manager_.Prune(std::move(containers), std::move(deployments));
}

void ReplicaNetworks::Drain(const std::string& id, std::chrono::steady_clock::time_point deadline,
                            std::function<void()> done) {
  if (drainer_) return drainer_(id, deadline, std::move(done));
  done();
}

}  // namespace zlayer::agent::daemon
