// What the node itself may grant a container: the agent's capability bounding set and its
// hard rlimits. A runtime spec asking for more makes runc fail (EPERM, "unable to apply
// caps"), so BuildRuntimeSpec (runtime_spec.h) clamps to these.
//
// Thread safety: the readers touch only the calling process's own state; call from any
// thread.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"

namespace zlayer::runtime {

// Capability names ("CAP_CHOWN"), as spec::AllCapabilities spells them.
using CapabilitySet = std::set<std::string>;

// Hard limits by OCI rlimit type ("RLIMIT_NOFILE"); RLIM_INFINITY is UINT64_MAX.
using RlimitMap = std::map<std::string, uint64_t>;

// The OCI rlimit type for a ulimit name as specs spell it: "RLIMIT_NOFILE" for "nofile".
std::string RlimitType(std::string_view ulimit_name);

// The names of the bits set in a capability mask as /proc/<pid>/status prints it
// ("000001fffeffffff"). Bits Linux does not define are ignored. kInvalidArgument when
// `hex` is not 1 to 16 hex digits.
Result<CapabilitySet> CapabilitiesFromMask(std::string_view hex);

// The `CapBnd:` mask of a /proc/<pid>/status text, as names. kInvalidArgument when the line
// is missing or malformed.
Result<CapabilitySet> BoundingSetFromStatus(std::string_view proc_status);

// This process's capability bounding set, from /proc/self/status. Errors: the file cannot be
// read (errno Status), or BoundingSetFromStatus's.
Result<CapabilitySet> NodeCapabilities();

// The hard limit of every rlimit Linux defines (the names spec::UlimitNames knows, as
// "RLIMIT_<NAME>"), from getrlimit(2) on this process. An errno Status if a call fails.
Result<RlimitMap> NodeHardLimits();

}  // namespace zlayer::runtime
