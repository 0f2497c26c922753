// The ImageSource the agent runs containers from: the node's image store, with registry
// pulls as each service's `image.pull_policy` asks (replica_runtime.h states the policy
// contract; images/puller.h how a pull goes).
//
// Threading: Prepare blocks (containerd and registry calls); the images pool calls it.
// Safe to call from several threads: concurrent pulls of one image share one pull.
#pragma once

#include "agent/images/image_store.h"
#include "agent/images/puller.h"
#include "agent/lifecycle/replica_runtime.h"
#include "common/log.h"

namespace zlayer::lifecycle {

class StoreImageSource : public ImageSource {
 public:
  // All references must outlive this; `pull_concurrency` is ZLAYER_PULL_CONCURRENCY.
  StoreImageSource(images::ImageStore& store, images::Puller& puller, int pull_concurrency,
                   Logger& log)
      : store_(store), puller_(puller), pull_concurrency_(pull_concurrency), log_(log) {}

  Result<PreparedImage> Prepare(const std::string& reference,
                                spec::PullPolicy pull_policy) override;
  Result<std::optional<PreparedImage>> Local(const std::string& reference) override;

 private:
  images::ImageStore& store_;
  images::Puller& puller_;
  int pull_concurrency_;
  Logger& log_;
};

}  // namespace zlayer::lifecycle
