// The OCI content descriptor (image-spec descriptor.md) and the platform an index entry
// names (image-spec image-index.md): what every manifest, index and registry answer in the
// node refers to content by. containerd has a descriptor of its own at its API boundary;
// agent/oci/containerd_mapping.h converts between the two.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace zlayer::oci {

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64", "arm64", "arm", "386"
  std::string variant;       // "" or "v5".."v8" for arm
  bool operator==(const Platform&) const = default;
};

struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<64 lowercase hex>"
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  // Set only on the entries of an index (or Docker manifest list) that carry one.
  std::optional<Platform> platform;
  bool operator==(const Descriptor&) const = default;
};

}  // namespace zlayer::oci
