// Image references, parsed and normalised as Docker does (distribution/reference's
// ParseNormalizedNamed + TagNameOnly), because containerd itself does no normalisation
// and stores image records under the full name:
//
//   busybox                  → docker.io/library/busybox:latest
//   user/app:1               → docker.io/user/app:1
//   host:5000/a/b:tag        → host:5000/a/b:tag
//   localhost/x              → localhost/x:latest
//   busybox@sha256:<hex>     → docker.io/library/busybox@sha256:<hex>   (no default tag)
//   busybox:1@sha256:<hex>   → docker.io/library/busybox:1@sha256:<hex>
//
// The first path component is a registry when it contains '.' or ':', is
// "localhost", or has upper-case letters; otherwise the registry is docker.io
// (index.docker.io is folded into docker.io), and a single-component docker.io
// repository gets "library/".
//
// Thread safety: plain values and pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace zlayer::oci {

struct Reference {
  std::string registry;    // "docker.io", "localhost:5000", "[::1]:5000"
  std::string repository;  // "library/busybox"
  std::string tag;         // "latest"; "" when the reference has only a digest
  std::string digest;      // "sha256:<hex>" or ""

  // "docker.io/library/busybox"
  std::string Name() const;
  // The normalised reference, the name image records are stored under:
  // Name() + ":" + tag (when set) + "@" + digest (when set).
  std::string FullName() const;
  // The host to contact for the registry API: registry-1.docker.io for
  // docker.io, the registry (with its port) otherwise.
  std::string RegistryHost() const;

  bool operator==(const Reference&) const = default;
};

// Parses and normalises `text`. kInvalidArgument with a message naming the
// reference and the problem, e.g. `invalid image reference "Busybox":
// repository name must be lowercase`, for: an empty reference, a bare
// 64-hex image id, an invalid registry host or port, an invalid path
// component, a tag not matching [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, a digest
// other than sha256:<64 lowercase hex>, or a name longer than 255 characters.
Result<Reference> ParseReference(std::string_view text);

}  // namespace zlayer::oci
