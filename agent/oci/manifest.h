// OCI and Docker schema 2 manifests and indexes as plain values: parsing them and the
// media types. Shared by the importer, the image store and the registry pull.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/oci/descriptor.h"
#include "common/status.h"

namespace zlayer::oci {

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

struct Index {
  std::string media_type;             // the document's own mediaType field; "" if absent
  std::vector<Descriptor> manifests;  // with their platforms, when they carry one
};

struct Manifest {
  std::string media_type;  // the document's own mediaType field; "" if absent
  Descriptor config;
  std::vector<Descriptor> layers;
};

// Parse an OCI index / Docker manifest list, or an OCI / Docker schema 2
// manifest. kInvalidArgument, naming the field, when the text is not JSON,
// schemaVersion is not 2, or a descriptor lacks a media type, a sha256 digest
// or a size >= 0.
Result<Index> ParseIndex(std::string_view json);
Result<Manifest> ParseManifest(std::string_view json);

// Serialises a Docker schema 2 manifest (media type kMediaTypeDockerManifest)
// the way Go's encoding/json writes containerd's importer struct:
// {"schemaVersion":2,"mediaType":...,"config":{...},"layers":[...]}, each
// descriptor as {"mediaType","digest","size"} (annotations and platform are not written).
std::string DockerManifestJson(const Descriptor& config, const std::vector<Descriptor>& layers);

}  // namespace zlayer::oci
