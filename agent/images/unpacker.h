// Unpacking an image's layers into a containerd snapshotter, exactly as containerd's
// Go client does (containerd-client-notes.md §6): one committed snapshot per layer,
// named by its chain id, with the labels that keep the chain alive after the lease.
//
// Threading: every call blocks on containerd; run it on the worker pool, never on the
// event loop. An Unpacker holds no state between calls besides the client reference,
// so one may serve several threads; two unpacks of the same chain at once are safe
// (containerd's ALREADY_EXISTS answers are handled as "someone else did it").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "agent/containerd/client.h"
#include "agent/oci/descriptor.h"
#include "common/status.h"

namespace zlayer::images {

// Chain ids from diff ids: chain[0] = diff[0], chain[n] = sha256(chain[n-1] + " " +
// diff[n]) as "sha256:<hex>" (image-spec identity.ChainIDs).
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);

// One layer to unpack.
struct LayerUnpack {
  oci::Descriptor blob;  // the (compressed) layer blob in the content store
  std::string diff_id;   // sha256 of its uncompressed tar (from the config)
  std::string chain_id;  // the committed snapshot's name
  std::string parent;    // the previous layer's chain id; "" for the base
};

// Pairs a manifest's layers with the config's diff ids. kInvalidArgument when
// their counts differ.
Result<std::vector<LayerUnpack>> PlanUnpack(const std::vector<oci::Descriptor>& layers,
                                            const std::vector<std::string>& diff_ids);

// What happened to one layer, for progress reports.
enum class LayerOutcome { kAlreadyUnpacked, kUnpacked };

class Unpacker {
 public:
  // `client` must outlive the Unpacker. `snapshotter` is e.g. "overlayfs".
  Unpacker(containerd::Client& client, std::string snapshotter);

  const std::string& snapshotter() const { return snapshotter_; }

  // Unpacks one layer whose parent chain is already unpacked (§6 steps 1-7):
  // Stat(chain id) → done if present; else Prepare("extract-<nanos>-<rand>
  // <chain id>", parent, labels{containerd.io/snapshot.ref: chain id, plus the
  // blob's containerd.io/snapshot/* annotations}), ApplyDiff, check the applied
  // digest against the diff id, Commit(chain id), and label the layer blob
  // containerd.io/uncompressed = diff id. A Prepare or Commit ALREADY_EXISTS
  // because another unpack got there first counts as done.
  //
  // Errors (the prepared snapshot is removed first): the applied digest is
  // not the diff id → kDataLoss "layer <digest>: applied diff <x> does not
  // match diff id <y>"; otherwise containerd's error wrapped with the layer
  // digest and the step ("layer sha256:..: apply: ...").
  Result<LayerOutcome> UnpackLayer(const LayerUnpack& layer, const std::string& lease);

  // Unpacks all layers in order, then labels the config blob
  // containerd.io/gc.ref.snapshot.<snapshotter> = top chain id, the GC anchor of
  // the chain. `on_layer` (optional) is called after each layer. With an
  // empty `lease`, a lease is created for the call and deleted after it.
  Status Unpack(const oci::Descriptor& config, const std::vector<LayerUnpack>& layers,
                const std::string& lease,
                const std::function<void(const LayerUnpack&, LayerOutcome)>& on_layer = {});

  // Whether the top chain id exists as a snapshot (containerd's IsUnpacked).
  // An empty image (no layers) counts as unpacked. Errors other than
  // kNotFound are returned.
  Result<bool> IsUnpacked(const std::vector<std::string>& chain_ids);

 private:
  containerd::Client& client_;
  const std::string snapshotter_;
};

}  // namespace zlayer::images
