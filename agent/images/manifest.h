// OCI and Docker schema 2 manifests and indexes as plain values: parsing them, the
// media types, sha256 digests, and the garbage-collection labels containerd's client
// puts on a parent blob for its children (containerd-client-notes.md §5 step 5).
// Shared by the importer and the registry pull.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/containerd/types.h"
#include "agent/images/platform.h"
#include "common/status.h"

namespace zlayer::images {

inline constexpr const char* kMediaTypeOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kMediaTypeOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kMediaTypeOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kMediaTypeDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kMediaTypeDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kMediaTypeDockerConfig =
    "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kMediaTypeDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr const char* kMediaTypeDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";

// Annotations on index entries that name an image.
inline constexpr const char* kAnnotationImageName = "io.containerd.image.name";
inline constexpr const char* kAnnotationRefName = "org.opencontainers.image.ref.name";

// The largest manifest, index or config blob read into memory (containerd's
// pull limit, 4*1048*1048 bytes).
inline constexpr int64_t kMaxManifestSize = 4 * 1048 * 1048;

bool IsIndexMediaType(std::string_view media_type);
bool IsManifestMediaType(std::string_view media_type);
bool IsConfigMediaType(std::string_view media_type);
// OCI and Docker layer types, compressed or not, distributable or not.
bool IsLayerMediaType(std::string_view media_type);

// True for "sha256:" followed by 64 lowercase hex digits, the only digests the
// node accepts.
bool IsSha256Digest(std::string_view digest);

// "sha256:<hex>" of `data`.
std::string Sha256Digest(std::string_view data);

// Incremental sha256, for blobs streamed in pieces.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size);
  // "sha256:<hex>" of everything updated so far; call once.
  std::string Finish();

 private:
  void* ctx_;  // EVP_MD_CTX
};

struct Index {
  std::string media_type;  // the document's own mediaType field; "" if absent
  std::vector<IndexEntry> manifests;
};

struct Manifest {
  std::string media_type;  // the document's own mediaType field; "" if absent
  containerd::Descriptor config;
  std::vector<containerd::Descriptor> layers;
};

// Parse an OCI index / Docker manifest list, or an OCI / Docker schema 2
// manifest. kInvalidArgument, naming the field, when the text is not JSON,
// schemaVersion is not 2, or a descriptor lacks a media type, a sha256 digest
// or a size >= 0.
Result<Index> ParseIndex(std::string_view json);
Result<Manifest> ParseManifest(std::string_view json);

// The labels containerd's client sets on a parent blob (images.ChildGCLabels):
// for an index, containerd.io/gc.ref.content.m.<i> per manifest; for a
// manifest, ...content.config and ...content.l.<i> per layer. `<i>` counts in
// document order.
containerd::Labels ChildGcLabels(const Index& index);
containerd::Labels ChildGcLabels(const Manifest& manifest);

// Serialises a Docker schema 2 manifest (media type kMediaTypeDockerManifest)
// the way Go's encoding/json writes containerd's importer struct:
// {"schemaVersion":2,"mediaType":...,"config":{...},"layers":[...]}, each
// descriptor as {"mediaType","digest","size"}.
std::string DockerManifestJson(const containerd::Descriptor& config,
                               const std::vector<containerd::Descriptor>& layers);

}  // namespace zlayer::images
