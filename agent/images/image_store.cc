#include "agent/images/image_store.h"

#include <fmt/format.h>

#include "agent/images/containerd_mapping.h"
#include "agent/oci/manifest.h"
#include "agent/oci/reference.h"

namespace zlayer::images {
namespace {

// Indexes pointing at indexes are legal; containerd follows any depth, we
// stop at a depth no real image reaches.
constexpr int kMaxIndexDepth = 4;

}  // namespace

ImageStore::ImageStore(containerd::Client& client, std::string snapshotter, oci::Platform platform)
    : client_(client), snapshotter_(std::move(snapshotter)), platform_(std::move(platform)) {}

Result<std::string> ImageStore::ReadBlob(const oci::Descriptor& descriptor) {
  Result<std::string> data = client_.ReadContent(descriptor.digest, oci::kMaxManifestSize);
  if (!data.ok()) {
    if (data.status().code() == StatusCode::kNotFound) {
      return NotFoundError(fmt::format("content {}: not found", descriptor.digest));
    }
    return data.status().Wrap("read " + descriptor.digest);
  }
  return data;
}

Result<containerd::ImageRecord> ImageStore::FindRecord(const std::string& reference) {
  Result<oci::Reference> parsed = oci::ParseReference(reference);
  std::string name = parsed.ok() ? parsed->FullName() : reference;
  Result<containerd::ImageRecord> record = client_.GetImage(name);
  if (record.ok() || record.status().code() != StatusCode::kNotFound) {
    if (!record.ok()) return record.status().Wrap("image " + name);
    return record;
  }
  if (name != reference) {
    // Records created by other clients may be stored under names we would
    // normalise differently.
    Result<containerd::ImageRecord> as_given = client_.GetImage(reference);
    if (as_given.ok()) return as_given;
  }
  if (!parsed.ok()) return parsed.status();
  return NotFoundError(fmt::format("image {}: not found", name));
}

Result<LocalImage> ImageStore::Resolve(const std::string& reference) {
  Result<containerd::ImageRecord> record = FindRecord(reference);
  if (!record.ok()) return record.status();
  return Load(*record);
}

Result<LocalImage> ImageStore::Load(const containerd::ImageRecord& record) {
  const std::string context = "image " + record.name;
  LocalImage image;
  image.record = record;
  oci::Descriptor target = ToOci(record.target);
  for (int depth = 0; oci::IsIndexMediaType(target.media_type); ++depth) {
    if (depth == kMaxIndexDepth) {
      return InvalidArgumentError(context + ": indexes nested too deeply");
    }
    Result<std::string> blob = ReadBlob(target);
    if (!blob.ok()) return blob.status().Wrap(context);
    Result<oci::Index> index = oci::ParseIndex(*blob);
    if (!index.ok()) return index.status().Wrap(fmt::format("{}: {}", context, target.digest));
    Result<oci::Descriptor> chosen = oci::ChooseManifest(index->manifests, platform_);
    if (!chosen.ok()) return chosen.status().Wrap(context);
    image.size += target.size;
    target = *chosen;
  }
  if (!oci::IsManifestMediaType(target.media_type)) {
    return InvalidArgumentError(fmt::format("{}: {} has unsupported media type {}", context,
                                            target.digest, target.media_type));
  }
  image.manifest = target;
  Result<std::string> manifest_blob = ReadBlob(target);
  if (!manifest_blob.ok()) return manifest_blob.status().Wrap(context);
  Result<oci::Manifest> manifest = oci::ParseManifest(*manifest_blob);
  if (!manifest.ok()) {
    return manifest.status().Wrap(fmt::format("{}: {}", context, target.digest));
  }
  image.config_descriptor = manifest->config;
  image.layers = manifest->layers;
  Result<std::string> config_blob = ReadBlob(manifest->config);
  if (!config_blob.ok()) return config_blob.status().Wrap(context);
  Result<oci::ImageConfig> config = oci::ParseImageConfig(*config_blob);
  if (!config.ok()) {
    return config.status().Wrap(fmt::format("{}: config {}", context, manifest->config.digest));
  }
  image.config = std::move(*config);
  // A manifest outside an index runs only where its config says (containerd's
  // images.Manifest checks the same).
  oci::Platform built{image.config.os, image.config.architecture, image.config.variant};
  if (!oci::PlatformRank(platform_, built)) {
    return NotFoundError(fmt::format("{}: built for {}, which does not run on {}", context,
                                     oci::PlatformString(oci::NormalizePlatform(built)),
                                     oci::PlatformString(oci::NormalizePlatform(platform_))));
  }
  if (image.config.diff_ids.size() != image.layers.size()) {
    return InvalidArgumentError(
        fmt::format("{}: the manifest has {} layers but the config has {} diff ids", context,
                    image.layers.size(), image.config.diff_ids.size()));
  }
  image.chain_ids = ChainIds(image.config.diff_ids);
  image.size += image.manifest.size + image.config_descriptor.size;
  for (const auto& layer : image.layers) image.size += layer.size;
  Unpacker unpacker(client_, snapshotter_);
  Result<bool> unpacked = unpacker.IsUnpacked(image.chain_ids);
  if (!unpacked.ok()) return unpacked.status().Wrap(context);
  image.unpacked = *unpacked;
  return image;
}

Status ImageStore::Register(const std::string& name, const oci::Descriptor& target,
                            const containerd::Labels& labels) {
  containerd::ImageRecord record;
  record.name = name;
  record.target = containerd::Descriptor{target.media_type, target.digest, target.size, {}};
  record.labels = labels;
  return client_.PutImage(record).Wrap("image " + name + ": store record");
}

Status ImageStore::Unpack(const LocalImage& image, const std::string& lease,
                          const ProgressCallback& progress) {
  Result<std::vector<LayerUnpack>> plan = PlanUnpack(image.layers, image.config.diff_ids);
  if (!plan.ok()) return plan.status().Wrap("image " + image.record.name);
  Unpacker unpacker(client_, snapshotter_);
  auto on_layer = [&](const LayerUnpack& layer, LayerOutcome outcome) {
    if (!progress) return;
    ProgressEvent event;
    event.kind = ProgressEvent::Kind::kLayerUnpacked;
    event.blob = layer.blob;
    event.name = image.record.name;
    event.done = layer.blob.size;
    event.already_present = outcome == LayerOutcome::kAlreadyUnpacked;
    progress(event);
  };
  return unpacker.Unpack(image.config_descriptor, *plan, lease, on_layer)
      .Wrap(fmt::format("image {}: unpack into {}", image.record.name, snapshotter_));
}

Result<std::vector<ImageSummary>> ImageStore::List() {
  Result<std::vector<containerd::ImageRecord>> records = client_.ListImages();
  if (!records.ok()) return records.status().Wrap("list images");
  std::vector<ImageSummary> out;
  for (const containerd::ImageRecord& record : *records) {
    ImageSummary summary;
    summary.name = record.name;
    summary.digest = record.target.digest;
    summary.media_type = record.target.media_type;
    Result<LocalImage> image = Load(record);
    if (image.ok()) {
      summary.size = image->size;
      summary.unpacked = image->unpacked;
    } else if (image.status().code() == StatusCode::kUnavailable ||
               image.status().code() == StatusCode::kDeadlineExceeded) {
      return image.status();  // containerd went away: the list would be wrong
    } else {
      summary.size = record.target.size;
      summary.problem = image.status().message();
    }
    out.push_back(std::move(summary));
  }
  return out;
}

Status ImageStore::Remove(const std::string& reference) {
  Result<containerd::ImageRecord> record = FindRecord(reference);
  if (!record.ok()) return record.status();
  Status deleted = client_.DeleteImage(record->name, /*sync=*/false);
  if (deleted.code() == StatusCode::kNotFound) {
    return NotFoundError(fmt::format("image {}: not found", record->name));
  }
  return deleted.Wrap("image " + record->name + ": delete");
}

}  // namespace zlayer::images
