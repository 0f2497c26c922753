#include "agent/images/puller.h"

#include <fmt/format.h>

#include <thread>

#include "agent/images/containerd_mapping.h"
#include "agent/images/content_helpers.h"
#include "agent/images/unpacker.h"
#include "agent/oci/image_config.h"
#include "agent/oci/manifest.h"
#include "agent/oci/reference.h"

namespace zlayer::images {
namespace {

using containerd::Labels;
using oci::Descriptor;

constexpr std::chrono::hours kPullLeaseExpiry{24};
constexpr int64_t kProgressStep = 512 * 1024;

Status DataLoss(std::string message) { return {StatusCode::kDataLoss, std::move(message)}; }

std::string HostWithoutPort(const std::string& registry) {
  if (!registry.empty() && registry[0] == '[') return registry.substr(1, registry.find(']') - 1);
  return registry.substr(0, registry.rfind(':'));
}

// containerd's distribution-source label (notes §5 step 5).
Labels SourceLabel(const oci::Reference& ref) {
  return {{"containerd.io/distribution.source." + HostWithoutPort(ref.registry), ref.repository}};
}

Labels Merge(Labels a, const Labels& b) {
  for (const auto& [k, v] : b) a[k] = v;
  return a;
}

// Failures a later pull may get past by resuming what this one committed.
bool Retryable(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kCancelled ||
         s.code() == StatusCode::kDeadlineExceeded;
}

// Streams one blob from the registry into WriteContent, opening the HTTP request only
// when containerd asks for bytes (a present blob costs no request).
class RegistrySource : public containerd::BlobSource {
 public:
  RegistrySource(registry::RegistryClient& registry, const oci::Reference& ref,
                 const Descriptor& blob, const ProgressCallback& progress,
                 const std::atomic<bool>& cancelled)
      : registry_(registry), ref_(ref), blob_(blob), progress_(progress), cancelled_(cancelled) {}

  Status Seek(int64_t offset) override {
    offset_ = offset;
    done_ = offset;
    return Status::Ok();
  }

  Result<size_t> Read(char* buffer, size_t size) override {
    if (cancelled_) return Status(StatusCode::kCancelled, "pull cancelled");
    if (!reader_) {
      auto opened = registry_.OpenBlob(ref_, blob_, offset_);
      if (!opened.ok()) return opened.status();
      reader_ = std::move(*opened);
      Report(progress_, ProgressEvent::Kind::kBlobWriting, blob_, done_, false);
    }
    Result<size_t> n = reader_->Read(buffer, size);
    if (!n.ok()) {
      return n.status().Wrap(fmt::format("registry {}: blob {}", ref_.registry, blob_.digest));
    }
    if (*n == 0 && done_ < blob_.size) {
      return UnavailableError(
          fmt::format("registry {}: blob {}: connection ended after {} of {} bytes", ref_.registry,
                      blob_.digest, done_, blob_.size));
    }
    done_ += static_cast<int64_t>(*n);
    if (done_ > blob_.size) {
      return DataLoss(
          fmt::format("registry {}: blob {}: size mismatch: more than the {} bytes "
                      "its descriptor says",
                      ref_.registry, blob_.digest, blob_.size));
    }
    if (done_ - reported_ >= kProgressStep || done_ == blob_.size) {
      reported_ = done_;
      Report(progress_, ProgressEvent::Kind::kBlobWriting, blob_, done_, false);
    }
    return n;
  }

  bool opened() const { return reader_ != nullptr; }

 private:
  registry::RegistryClient& registry_;
  const oci::Reference& ref_;
  const Descriptor& blob_;
  const ProgressCallback& progress_;
  const std::atomic<bool>& cancelled_;
  std::unique_ptr<registry::BlobReader> reader_;
  int64_t offset_ = 0;
  int64_t done_ = 0;
  int64_t reported_ = 0;
};

// A mismatch at commit (containerd's FAILED_PRECONDITION) is the registry's doing.
Status WriteError(const Status& s, const oci::Reference& ref, const Descriptor& blob) {
  if (s.code() == StatusCode::kFailedPrecondition) {
    return DataLoss(fmt::format("registry {}: blob {}: digest or size mismatch, rejected ({})",
                                ref.registry, blob.digest, s.message()));
  }
  return s.Wrap("write blob " + blob.digest);
}

// The pull's shared state between the fetching threads and the unpacking thread.
struct LayerBoard {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<bool> committed;  // guarded by mu
  Status error;                 // the first failure; guarded by mu
  std::atomic<bool> cancelled{false};
  std::atomic<size_t> next{0};

  void Fail(Status s) {
    std::lock_guard lock(mu);
    if (error.ok()) error = std::move(s);
    cancelled = true;
    cv.notify_all();
  }
};

}  // namespace

Puller::Puller(containerd::Client& client, ImageStore& store, registry::RegistryClient& registry)
    : client_(client), store_(store), registry_(registry) {}

Result<Descriptor> Puller::ResolveRemote(const std::string& reference) {
  auto ref = oci::ParseReference(reference);
  if (!ref.ok()) return ref.status();
  return registry_.Resolve(*ref);
}

Result<LocalImage> Puller::Pull(const std::string& reference, const PullOptions& options,
                                const std::function<void(const PullResolved&)>& on_resolved,
                                const ProgressCallback& progress) {
  auto ref = oci::ParseReference(reference);
  if (!ref.ok()) return ref.status();
  oci::Platform platform = oci::NormalizePlatform(options.platform.value_or(store_.platform()));
  std::string key = ref->FullName() + " " + oci::PlatformString(platform);

  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    std::lock_guard lock(flights_mu_);
    auto& slot = flights_[key];
    if (!slot) {
      slot = std::make_shared<Flight>();
      leader = true;
    }
    flight = slot;
  }
  if (!leader) {
    std::unique_lock lock(flight->mu);
    flight->cv.wait(lock, [&] { return flight->result.has_value(); });
    return *flight->result;
  }
  Result<LocalImage> result =
      PullOnce(*ref, platform, std::max(1, options.concurrency), on_resolved, progress);
  {
    std::lock_guard lock(flights_mu_);
    flights_.erase(key);
  }
  {
    std::lock_guard lock(flight->mu);
    flight->result = result;
  }
  flight->cv.notify_all();
  return result;
}

Result<LocalImage> Puller::PullOnce(const oci::Reference& ref, const oci::Platform& platform,
                                    int concurrency,
                                    const std::function<void(const PullResolved&)>& on_resolved,
                                    const ProgressCallback& progress) {
  const std::string name = ref.FullName();
  auto target = registry_.Resolve(ref);
  if (!target.ok()) return target.status();

  auto lease_id = client_.CreateLease(kPullLeaseExpiry);
  if (!lease_id.ok()) return lease_id.status().Wrap("pull " + name + ": create lease");
  LeaseGuard lease(client_, *lease_id);
  auto fail = [&](const Status& s) {
    if (Retryable(s)) lease.Keep();
    return s;
  };

  // A document already in containerd (an earlier pull) is not fetched again.
  auto document = [&](const Descriptor& d, bool manifest) -> Result<std::string> {
    auto local = client_.ReadContent(d.digest, oci::kMaxManifestSize);
    if (local.ok() && static_cast<int64_t>(local->size()) == d.size) return local;
    return manifest ? registry_.FetchManifest(ref, d) : registry_.FetchBlob(ref, d);
  };

  auto root = document(*target, true);
  if (!root.ok()) return fail(root.status());
  Descriptor manifest_descriptor = *target;
  std::string manifest_json = *root;
  std::optional<oci::Index> index;
  oci::Platform chosen = platform;
  if (oci::IsIndexMediaType(target->media_type)) {
    auto parsed = oci::ParseIndex(*root);
    if (!parsed.ok())
      return fail(parsed.status().Wrap("registry " + ref.registry + ": index of " + name));
    index = std::move(*parsed);
    auto entry = oci::ChooseManifest(index->manifests, platform);
    if (!entry.ok()) {
      return fail(FailedPreconditionError(
          fmt::format("registry {}: {}: {}", ref.registry, name, entry.status().message())));
    }
    manifest_descriptor = Descriptor{entry->media_type, entry->digest, entry->size, {}};
    if (entry->platform) chosen = oci::NormalizePlatform(*entry->platform);
    if (!oci::IsManifestMediaType(manifest_descriptor.media_type)) {
      return fail(InvalidArgumentError(
          fmt::format("registry {}: {}: nested indexes are not supported", ref.registry, name)));
    }
    auto fetched = document(manifest_descriptor, true);
    if (!fetched.ok()) return fail(fetched.status());
    manifest_json = std::move(*fetched);
  }
  auto manifest = oci::ParseManifest(manifest_json);
  if (!manifest.ok()) {
    return fail(manifest.status().Wrap(
        fmt::format("registry {}: manifest {}", ref.registry, manifest_descriptor.digest)));
  }
  auto config_json = document(manifest->config, false);
  if (!config_json.ok()) return fail(config_json.status());
  auto config = oci::ParseImageConfig(*config_json);
  if (!config.ok()) {
    return fail(config.status().Wrap(
        fmt::format("registry {}: config {}", ref.registry, manifest->config.digest)));
  }
  for (const Descriptor& layer : manifest->layers) {
    if (!oci::IsLayerMediaType(layer.media_type)) {
      return fail(
          InvalidArgumentError(fmt::format("registry {}: layer {}: unsupported media type {}",
                                           ref.registry, layer.digest, layer.media_type)));
    }
    if (layer.size <= 0) {
      return fail(InvalidArgumentError(
          fmt::format("registry {}: layer {}: size 0 (a poorly configured registry)", ref.registry,
                      layer.digest)));
    }
  }
  auto plan = PlanUnpack(manifest->layers, config->diff_ids);
  if (!plan.ok()) return fail(plan.status().Wrap("image " + name));

  if (on_resolved) {
    PullResolved resolved{name, *target, chosen, {}};
    resolved.blobs.push_back(manifest->config);
    for (const Descriptor& layer : manifest->layers) resolved.blobs.push_back(layer);
    on_resolved(resolved);
  }

  const Labels source = SourceLabel(ref);
  auto write_document = [&](const Descriptor& d, const std::string& kind, const std::string& data,
                            const Labels& labels) -> Status {
    StringSource src(data);
    Status s = client_.WriteContent(kind + "-" + d.digest, ToContainerd(d), src,
                                    Merge(labels, source), lease.id());
    if (!s.ok()) return WriteError(s, ref, d);
    Report(progress, ProgressEvent::Kind::kBlobWritten, d, d.size, src.read() == 0);
    return Status::Ok();
  };
  const Descriptor config_descriptor{
      manifest->config.media_type, manifest->config.digest, manifest->config.size, {}};
  if (Status s = write_document(config_descriptor, "config", *config_json, {}); !s.ok()) {
    return fail(s);
  }

  // Layers: fetched by `concurrency` threads, unpacked here in order as they arrive.
  const size_t n = manifest->layers.size();
  LayerBoard board;
  board.committed.assign(n, false);
  auto fetch = [&] {
    while (!board.cancelled) {
      size_t i = board.next++;
      if (i >= n) return;
      const Descriptor& layer = manifest->layers[i];
      RegistrySource src(registry_, ref, layer, progress, board.cancelled);
      Status s = client_.WriteContent("layer-" + layer.digest, ToContainerd(layer), src, source,
                                      lease.id());
      if (!s.ok()) {
        // The source's own error (a cancel, a broken connection) says more than the
        // write's wrapping of it.
        board.Fail(WriteError(s, ref, layer));
        return;
      }
      Report(progress, ProgressEvent::Kind::kBlobWritten, layer, layer.size, !src.opened());
      std::lock_guard lock(board.mu);
      board.committed[i] = true;
      board.cv.notify_all();
    }
  };
  std::vector<std::thread> fetchers;
  for (int t = 0; t < concurrency && static_cast<size_t>(t) < n; ++t) fetchers.emplace_back(fetch);

  Unpacker unpacker(client_, store_.snapshotter());
  for (size_t i = 0; i < n; ++i) {
    {
      std::unique_lock lock(board.mu);
      board.cv.wait(lock, [&] { return board.committed[i] || !board.error.ok(); });
      if (!board.error.ok()) break;
    }
    Report(progress, ProgressEvent::Kind::kLayerUnpacking, manifest->layers[i],
           manifest->layers[i].size, false);
    auto outcome = unpacker.UnpackLayer((*plan)[i], lease.id());
    if (!outcome.ok()) {
      board.Fail(outcome.status().Wrap("image " + name));
      break;
    }
    Report(progress, ProgressEvent::Kind::kLayerUnpacked, manifest->layers[i],
           manifest->layers[i].size, *outcome == LayerOutcome::kAlreadyUnpacked);
  }
  for (std::thread& t : fetchers) t.join();
  if (!board.error.ok()) return fail(board.error);

  // The GC anchors, children before parents: config → snapshot chain, manifest → config and
  // layers, index → manifests. Then the name.
  if (!plan->empty()) {
    Status s = client_.UpdateContentLabels(
        config_descriptor.digest,
        {{"containerd.io/gc.ref.snapshot." + store_.snapshotter(), plan->back().chain_id}});
    if (!s.ok()) return fail(s.Wrap("label config " + config_descriptor.digest));
  }
  if (Status s =
          write_document(manifest_descriptor, "manifest", manifest_json, ChildGcLabels(*manifest));
      !s.ok()) {
    return fail(s);
  }
  if (index) {
    Descriptor index_descriptor{target->media_type, target->digest, target->size, {}};
    if (Status s = write_document(index_descriptor, "index", *root, ChildGcLabels(*index));
        !s.ok()) {
      return fail(s);
    }
  }
  Descriptor record_target{target->media_type, target->digest, target->size, {}};
  auto existing = client_.GetImage(name);
  bool same = existing.ok() && existing->target.digest == record_target.digest &&
              existing->target.media_type == record_target.media_type &&
              existing->target.size == record_target.size;
  if (!same) {
    if (Status s = store_.Register(name, record_target); !s.ok()) return fail(s);
  }
  Report(progress, ProgressEvent::Kind::kImageStored, record_target, record_target.size, same,
         name);

  ImageStore view(client_, store_.snapshotter(), platform);
  auto image = view.Load(containerd::ImageRecord{name, ToContainerd(record_target)});
  if (!image.ok()) return fail(image.status());
  return image;
}

}  // namespace zlayer::images
