// Platforms (os/architecture/variant) and choosing one manifest from an index for
// the host, as containerd's default platform matcher does (containerd-client-notes.md
// §5 step 6): normalise both sides, compare os, architecture and variant exactly, and
// prefer the host's own platform over its fallbacks (amd64 → 386; arm64 → arm/v8 … v5;
// arm/vN → arm/vN-1 … v5).
//
// Thread safety: plain values and pure functions (HostPlatform reads uname once per call).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/oci/descriptor.h"
#include "common/status.h"

namespace zlayer::oci {

// "linux/amd64", "linux/arm/v7".
std::string PlatformString(const Platform& platform);

// Parses "os/arch[/variant]" (as `zlayer pull --platform` takes it) and normalises it.
// kInvalidArgument naming the text for anything else.
Result<Platform> ParsePlatform(std::string_view text);

// Canonical form: os lower-cased; x86_64/x86-64 → amd64 (variant v1 → ""),
// i386 → 386, aarch64 → arm64 (v8/8 → ""), armhf → arm/v7, armel → arm/v6,
// arm with no variant → arm/v7, a bare variant number N → vN.
Platform NormalizePlatform(Platform platform);

// The platform of a machine named as `uname -m` does (x86_64, aarch64, armv7l,
// armv6l, i686, ...), for os linux, normalised. Unknown names are kept as the
// architecture.
Platform PlatformFromMachine(std::string_view machine);

// The host's platform from uname(2). kInternal if uname fails.
Result<Platform> HostPlatform();

// Whether an image for `candidate` runs on `host`, and how well: 0 for the
// host's own platform, 1.. for its fallbacks in preference order, nullopt
// when it does not match. Both are normalised first.
std::optional<int> PlatformRank(const Platform& host, const Platform& candidate);

// The manifest to use on `host`, from the entries of an index: among entries whose
// platform matches (or that carry none), the best ranked; entries without a platform come last;
// ties keep index order. kNotFound "no match for platform linux/amd64 in
// index (offers linux/arm64/v8, ...)" when nothing matches.
Result<Descriptor> ChooseManifest(const std::vector<Descriptor>& entries, const Platform& host);

}  // namespace zlayer::oci
