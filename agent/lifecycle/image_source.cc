#include "agent/lifecycle/image_source.h"

namespace zlayer::lifecycle {
namespace {

PreparedImage Ready(const images::LocalImage& image) {
  PreparedImage prepared;
  prepared.name = image.record.name;
  prepared.digest = image.manifest.digest;
  prepared.config = image.config;
  prepared.top_chain_id = image.TopChainId();
  return prepared;
}

}  // namespace

Result<PreparedImage> StoreImageSource::Prepare(const std::string& reference,
                                                spec::PullPolicy policy) {
  auto image = store_.Resolve(reference);
  if (!image.ok() && image.status().code() != StatusCode::kNotFound) return image.status();
  bool pull = false;
  switch (policy) {
    case spec::PullPolicy::kNever:
      if (!image.ok()) {
        return NotFoundError("image " + reference +
                             " is not on the node and its pull_policy is never; pull it "
                             "with `zlayer pull` or load it with `zlayer image import FILE`");
      }
      break;
    case spec::PullPolicy::kIfNotPresent:
      pull = !image.ok();
      break;
    case spec::PullPolicy::kAlways:
      pull = true;
      break;
    case spec::PullPolicy::kNewer: {
      auto remote = puller_.ResolveRemote(reference);
      if (!remote.ok()) {
        if (!image.ok()) return remote.status().Wrap("image " + reference);
        log_.Warn("image {}: keeping the node's copy: {}", reference, remote.status().message());
      } else {
        pull = !image.ok() || remote->digest != image->record.target.digest;
      }
      break;
    }
  }
  if (pull) {
    images::PullOptions options;
    options.concurrency = pull_concurrency_;
    auto pulled = puller_.Pull(reference, options);
    if (!pulled.ok()) return pulled.status().Wrap("image " + reference);
    image = std::move(*pulled);
  }
  if (!image->unpacked) ZLAYER_RETURN_IF_ERROR(store_.Unpack(*image));
  return Ready(*image);
}

Result<std::optional<PreparedImage>> StoreImageSource::Local(const std::string& reference) {
  auto image = store_.Resolve(reference);
  if (!image.ok() && image.status().code() == StatusCode::kNotFound)
    return std::optional<PreparedImage>();
  if (!image.ok()) return image.status();
  if (!image->unpacked) return std::optional<PreparedImage>();
  return std::optional<PreparedImage>(Ready(*image));
}

}  // namespace zlayer::lifecycle
