// The node's images, as containerd holds them: image records in the Images service,
// blobs in the Content service, unpacked layers in a snapshotter.
//
// ImageStore is the part shared by every way an image arrives. An importer (archive
// files, importer.h) or a registry pull writes the blobs with their GC labels under a
// lease, then calls Register (the image record) and Unpack; everything else (Resolve,
// List, Remove) only reads what containerd has, so images imported or pulled by `ctr`
// work too.
//
// Threading: every method blocks on containerd calls; call them from the worker pool,
// never from the event loop. The store keeps no state of its own besides its
// configuration, so one instance may be used from several threads at once.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "agent/containerd/client.h"
#include "agent/images/unpacker.h"
#include "agent/oci/image_config.h"
#include "agent/oci/platform.h"
#include "common/status.h"

namespace zlayer::images {

// An image record resolved down to what running it needs.
struct LocalImage {
  containerd::ImageRecord record;  // name and target (an index or a manifest)
  oci::Descriptor manifest;        // the manifest chosen for the platform
  oci::Descriptor config_descriptor;
  oci::ImageConfig config;
  std::vector<oci::Descriptor> layers;  // base layer first
  std::vector<std::string> chain_ids;   // one per layer; the last is the rootfs parent
  // Sum of the sizes of the index (if the target is one), manifest, config and layers.
  int64_t size = 0;
  bool unpacked = false;  // the top chain id exists in the store's snapshotter

  // The snapshot a container's rootfs is prepared on; "" for an image without layers.
  std::string TopChainId() const { return chain_ids.empty() ? "" : chain_ids.back(); }
};

// One line of `zlayer images`.
struct ImageSummary {
  std::string name;
  std::string digest;  // the record's target digest (what `ctr images ls` shows)
  std::string media_type;
  int64_t size = 0;  // as LocalImage::size; the target's own size if it cannot be resolved
  bool unpacked = false;
  // Why the image cannot be used here ("no match for platform ...", "content
  // sha256:... not found"); "" when it resolves.
  std::string problem;
};

// What an import, pull or unpack is doing, for progress displays.
struct ProgressEvent {
  enum class Kind {
    kBlobWriting,     // `done` of `blob.size` bytes of a blob are written
    kBlobWritten,     // a blob is committed and verified (already_present: it was there)
    kLayerUnpacking,  // a layer is being applied to a snapshot (pulls)
    kLayerUnpacked,   // a layer's snapshot is committed (already_present: it was there)
    kImageStored,     // the image record `name` now points at `blob`
  };
  Kind kind = Kind::kBlobWriting;
  oci::Descriptor blob;
  std::string name;
  int64_t done = 0;
  bool already_present = false;
};
// Called on the thread doing the work, so it must be quick (post elsewhere).
using ProgressCallback = std::function<void(const ProgressEvent&)>;

class ImageStore {
 public:
  // `client` must outlive the store. Images are unpacked into `snapshotter`
  // and manifests chosen for `platform` (normally HostPlatform()).
  ImageStore(containerd::Client& client, std::string snapshotter, oci::Platform platform);

  const std::string& snapshotter() const { return snapshotter_; }
  const oci::Platform& platform() const { return platform_; }

  // Looks up the image record named by `reference` (normalised first, see
  // oci/reference.h; a name that is stored as given is found too) and resolves it:
  // an index → the platform's manifest (nested indexes followed) → config →
  // diff ids → chain ids; `unpacked` from Stat(top chain id).
  //
  // Errors: kInvalidArgument for a malformed reference or a malformed
  // manifest/index/config blob (naming the blob); kNotFound "image NAME: not
  // found", "image NAME: no match for platform ...", or "image NAME: content
  // sha256:...: not found" when a blob is missing; containerd's errors
  // otherwise, wrapped with the image name.
  Result<LocalImage> Resolve(const std::string& reference);

  // Resolves an image record in hand, stored or not: an importer or a pull
  // resolves {name, target} to unpack it before it Registers the record, as
  // containerd's client does (notes §5 steps 7-8). Errors as Resolve.
  Result<LocalImage> Load(const containerd::ImageRecord& record);

  // Creates the image record `name` (already normalised) → `target`, or points
  // an existing one at `target`. The blobs must be in the content store with
  // their GC labels (and normally unpacked) before this is called, under a
  // lease still held, since the record is what keeps them alive afterwards.
  Status Register(const std::string& name, const oci::Descriptor& target,
                  const containerd::Labels& labels = {});

  // Unpacks `image` into the snapshotter (notes §6, see unpacker.h), under
  // `lease` or, when empty, a lease of its own for the call. Already unpacked
  // layers are skipped, so this is cheap for an unpacked image. kInvalidArgument
  // when the layer and diff id counts differ; see Unpacker::UnpackLayer.
  Status Unpack(const LocalImage& image, const std::string& lease = "",
                const ProgressCallback& progress = {});

  // Every image record, by name. A record that does not resolve is listed
  // with `problem` set instead of failing the list.
  Result<std::vector<ImageSummary>> List();

  // Deletes the image record `reference` names (normalised, or as stored).
  // Content and snapshots no other image references go at containerd's next
  // garbage collection. kNotFound "image NAME: not found".
  Status Remove(const std::string& reference);

 private:
  // The stored name `reference` refers to, or kNotFound.
  Result<containerd::ImageRecord> FindRecord(const std::string& reference);
  Result<std::string> ReadBlob(const oci::Descriptor& descriptor);

  containerd::Client& client_;
  const std::string snapshotter_;
  const oci::Platform platform_;
};

}  // namespace zlayer::images
