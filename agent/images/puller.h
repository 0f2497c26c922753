// `zlayer pull REF` and pull policies: an image from an OCI registry into containerd, as
// containerd's own client pulls (containerd-client-notes.md §3-6), but with the layers
// fetched in parallel and each layer unpacked as soon as it and the layers below it are in.
//
// One pull, under a lease held for all of it:
//   1. resolve REF at the registry (index or manifest descriptor);
//   2. the index (if any), the platform's manifest and the config: read from the Content
//      service when already there, else fetched and verified (size, sha256);
//   3. the layers: `concurrency` threads each stream one layer at a time from the
//      registry into Content.Write (ref `layer-<digest>`; a blob already present is
//      skipped without a request, a partial ingest left by an interrupted pull is resumed
//      with an HTTP Range request; containerd checks size and digest at commit);
//   4. meanwhile this thread unpacks layer i (Unpacker::UnpackLayer) once layers 0..i are
//      committed;
//   5. the config (labelled gc.ref.snapshot.<S> = top chain id), the manifest and the
//      index are written with containerd's GC labels, then the image record is created or
//      repointed (ImageStore::Register) - nothing is named before everything is in.
// Every blob fetched gets `containerd.io/distribution.source.<registry host>` = repository.
//
// A failed pull stores no image record. After a failure that may pass (the registry
// unreachable, a broken connection, a cancel) the lease is kept until it expires (24 h) so
// the next pull resumes from what was committed; other failures delete it.
//
// Concurrent pulls of the same name and platform share one pull: the later callers wait
// for it and get its result (without its progress events).
//
// Threading: Pull blocks for the whole pull and starts `concurrency` threads of its own;
// call it from the worker pool, never the event loop. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/containerd/client.h"
#include "agent/images/image_store.h"
#include "agent/oci/platform.h"
#include "agent/registry/client.h"
#include "common/status.h"

namespace zlayer::images {

struct PullOptions {
  // The platform to choose from an index; unset: the store's platform.
  std::optional<oci::Platform> platform;
  // Layers fetched at once (ZLAYER_PULL_CONCURRENCY), at least 1.
  int concurrency = 3;
};

// What a reference resolved to, reported once before any layer is fetched.
struct PullResolved {
  std::string name;                    // normalised reference, the image record's name
  oci::Descriptor target;              // what the name points at: an index or a manifest
  oci::Platform platform;              // the platform chosen (or the config's)
  std::vector<oci::Descriptor> blobs;  // config, then layers
};

class Puller {
 public:
  // All three must outlive the puller; `store` must use `client`.
  Puller(containerd::Client& client, ImageStore& store, registry::RegistryClient& registry);

  // Pulls `reference` (normalised as oci/reference.h says) and returns the image as now
  // stored, unpacked. `on_resolved` and `progress` (optional) are called on the pulling
  // threads; they must be quick and thread-safe.
  //
  // Errors name the registry and the step (registry/client.h for the registry's codes):
  // kInvalidArgument for a malformed reference or manifest; kFailedPrecondition "no
  // manifest for linux/amd64 in ..." when an index has none for the platform; kDataLoss
  // when a blob's size or digest is not what its descriptor says; containerd's errors,
  // wrapped with the step, otherwise.
  Result<LocalImage> Pull(const std::string& reference, const PullOptions& options,
                          const std::function<void(const PullResolved&)>& on_resolved = {},
                          const ProgressCallback& progress = {});

  // The descriptor the registry has for `reference` now (pull policy `newer`).
  Result<oci::Descriptor> ResolveRemote(const std::string& reference);

 private:
  struct Flight {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<LocalImage>> result;  // guarded by mu
  };

  Result<LocalImage> PullOnce(const oci::Reference& ref, const oci::Platform& platform,
                              int concurrency,
                              const std::function<void(const PullResolved&)>& on_resolved,
                              const ProgressCallback& progress);

  containerd::Client& client_;
  ImageStore& store_;
  registry::RegistryClient& registry_;
  std::mutex flights_mu_;                                   // guards flights_
  std::map<std::string, std::shared_ptr<Flight>> flights_;  // by name + " " + platform
};

}  // namespace zlayer::images
