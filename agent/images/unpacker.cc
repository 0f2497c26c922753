#include "agent/images/unpacker.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <chrono>

#include "agent/images/containerd_mapping.h"
#include "agent/oci/digest.h"

namespace zlayer::images {
namespace {

constexpr int kPrepareAttempts = 3;
constexpr std::chrono::hours kUnpackLeaseExpiry{24};

// "extract-<nanos>-<base64url(3 random bytes)> <chain id>", the key containerd's
// unpacker uses: unique per attempt, and it names the target for humans.
std::string ExtractKey(const std::string& chain_id) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  long long nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() % 1000000000;
  unsigned char bytes[3] = {0, 0, 0};
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // Uniqueness, not secrecy, is what matters here.
    auto n = static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    bytes[0] = n & 0xff;
    bytes[1] = (n >> 8) & 0xff;
    bytes[2] = (n >> 16) & 0xff;
  }
  static constexpr char kBase64Url[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint32_t v = (bytes[0] << 16) | (bytes[1] << 8) | bytes[2];
  std::string random;
  for (int shift = 18; shift >= 0; shift -= 6) random += kBase64Url[(v >> shift) & 0x3f];
  return fmt::format("extract-{}-{} {}", nanos, random, chain_id);
}

}  // namespace

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> chain;
  for (const std::string& diff_id : diff_ids) {
    chain.push_back(chain.empty() ? diff_id : oci::Sha256Digest(chain.back() + " " + diff_id));
  }
  return chain;
}

Result<std::vector<LayerUnpack>> PlanUnpack(const std::vector<oci::Descriptor>& layers,
                                            const std::vector<std::string>& diff_ids) {
  if (layers.size() != diff_ids.size()) {
    return InvalidArgumentError(
        fmt::format("the manifest has {} layers but the config has {} diff ids", layers.size(),
                    diff_ids.size()));
  }
  std::vector<std::string> chain = ChainIds(diff_ids);
  std::vector<LayerUnpack> plan;
  for (size_t i = 0; i < layers.size(); ++i) {
    plan.push_back({layers[i], diff_ids[i], chain[i], i == 0 ? "" : chain[i - 1]});
  }
  return plan;
}

Unpacker::Unpacker(containerd::Client& client, std::string snapshotter)
    : client_(client), snapshotter_(std::move(snapshotter)) {}

Result<LayerOutcome> Unpacker::UnpackLayer(const LayerUnpack& layer, const std::string& lease) {
  const std::string context = "layer " + layer.blob.digest;
  Result<containerd::SnapshotInfo> existing = client_.StatSnapshot(snapshotter_, layer.chain_id);
  if (existing.ok()) return LayerOutcome::kAlreadyUnpacked;
  if (existing.status().code() != StatusCode::kNotFound) {
    return existing.status().Wrap(context + ": stat snapshot");
  }

  containerd::Labels labels;
  for (const auto& [key, value] : layer.blob.annotations) {
    if (key == containerd::kLabelSnapshotRef || key.starts_with("containerd.io/snapshot/")) {
      labels[key] = value;
    }
  }
  labels[containerd::kLabelSnapshotRef] = layer.chain_id;

  std::string key;
  Result<std::vector<containerd::Mount>> mounts = InternalError("not prepared");
  for (int attempt = 0; attempt < kPrepareAttempts; ++attempt) {
    key = ExtractKey(layer.chain_id);
    mounts = client_.PrepareSnapshot(snapshotter_, key, layer.parent, labels, lease);
    if (mounts.ok()) break;
    if (mounts.status().code() != StatusCode::kAlreadyExists) {
      return mounts.status().Wrap(context + ": prepare snapshot");
    }
    // Taken: either the chain id now exists (a concurrent unpack) or, rarely,
    // our random key collided.
    Result<containerd::SnapshotInfo> again = client_.StatSnapshot(snapshotter_, layer.chain_id);
    if (again.ok()) return LayerOutcome::kAlreadyUnpacked;
    if (again.status().code() != StatusCode::kNotFound) {
      return again.status().Wrap(context + ": stat snapshot");
    }
  }
  if (!mounts.ok()) {
    return mounts.status().Wrap(
        fmt::format("{}: prepare snapshot ({} attempts)", context, kPrepareAttempts));
  }

  auto discard = [&] { (void)client_.RemoveSnapshot(snapshotter_, key); };
  Result<containerd::Descriptor> applied =
      client_.ApplyDiff(ToContainerd(layer.blob), *mounts, lease);
  if (!applied.ok()) {
    discard();
    return applied.status().Wrap(context + ": apply");
  }
  if (applied->digest != layer.diff_id) {
    discard();
    return Status(StatusCode::kDataLoss,
                  fmt::format("{}: applied diff {} does not match diff id {}", context,
                              applied->digest, layer.diff_id));
  }
  Status committed = client_.CommitSnapshot(snapshotter_, layer.chain_id, key, labels, lease);
  if (committed.code() == StatusCode::kAlreadyExists) {
    discard();
    return LayerOutcome::kAlreadyUnpacked;
  }
  if (!committed.ok()) {
    discard();
    return committed.Wrap(context + ": commit snapshot");
  }
  ZLAYER_RETURN_IF_ERROR(
      client_
          .UpdateContentLabels(layer.blob.digest, {{containerd::kLabelUncompressed, layer.diff_id}})
          .Wrap(context + ": label uncompressed digest"));
  return LayerOutcome::kUnpacked;
}

Status Unpacker::Unpack(const oci::Descriptor& config, const std::vector<LayerUnpack>& layers,
                        const std::string& lease,
                        const std::function<void(const LayerUnpack&, LayerOutcome)>& on_layer) {
  std::string own_lease;
  if (lease.empty()) {
    Result<std::string> created = client_.CreateLease(kUnpackLeaseExpiry);
    if (!created.ok()) return created.status().Wrap("unpack: create lease");
    own_lease = *created;
  }
  const std::string& use = lease.empty() ? own_lease : lease;
  Status status;
  for (const LayerUnpack& layer : layers) {
    Result<LayerOutcome> outcome = UnpackLayer(layer, use);
    if (!outcome.ok()) {
      status = outcome.status();
      break;
    }
    if (on_layer) on_layer(layer, *outcome);
  }
  if (status.ok() && !layers.empty()) {
    status =
        client_
            .UpdateContentLabels(
                config.digest,
                {{containerd::kLabelGcRefSnapshotPrefix + snapshotter_, layers.back().chain_id}})
            .Wrap("config " + config.digest + ": label snapshot chain");
  }
  if (!own_lease.empty()) {
    Status deleted = client_.DeleteLease(own_lease, /*sync=*/false);
    if (status.ok() && !deleted.ok()) status = deleted.Wrap("unpack: delete lease");
  }
  return status;
}

Result<bool> Unpacker::IsUnpacked(const std::vector<std::string>& chain_ids) {
  if (chain_ids.empty()) return true;
  Result<containerd::SnapshotInfo> top = client_.StatSnapshot(snapshotter_, chain_ids.back());
  if (top.ok()) return true;
  if (top.status().code() == StatusCode::kNotFound) return false;
  return top.status().Wrap("stat snapshot " + chain_ids.back());
}

}  // namespace zlayer::images
