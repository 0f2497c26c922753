// Checks and fixes the host needs before containerd can run containers: what
// KIND's entrypoint and docker:dind do before starting their runtime.
//
// Decisions are pure functions (tested with tables); the steps that touch the
// system take the paths they work on, so tests point them at a temp dir.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/status.h"

namespace zlayer::init {

// --- Snapshotter root --------------------------------------------------------

struct SnapshotterChoice {
  std::string snapshotter;  // what the node will use
  std::string warning;      // non-empty when we fell back
};

// overlayfs cannot be stacked on overlayfs (the first container mount fails
// with EINVAL). With the root on overlayfs: a pinned `overlayfs` is an error
// naming the fix; an unpinned default falls back to `native` with a warning.
Result<SnapshotterChoice> ChooseSnapshotter(const std::string& requested, bool pinned,
                                            bool root_on_overlayfs, const std::string& root);

// True when `path` (created if missing) lives on an overlay filesystem.
Result<bool> IsOnOverlayfs(const std::string& path);

// --- cgroup v2 nesting -------------------------------------------------------

// True when this process sits at the root of a cgroup v2 hierarchy (the root
// of its cgroup namespace, as PID 1 of a container on a cgroup v2 host is):
// `proc_self_cgroup` is the text of /proc/self/cgroup, `cgroup_mount_is_v2`
// whether /sys/fs/cgroup is a cgroup2 mount.
bool NeedsCgroupNesting(const std::string& proc_self_cgroup, bool cgroup_mount_is_v2);

// Moves every process of `cgroup_root` into `cgroup_root`/init and enables all
// available controllers in `cgroup_root`/cgroup.subtree_control, so that
// containerd can create child cgroups with controllers (the "no internal
// processes" rule). Retries while `docker exec` keeps adding processes.
Status NestCgroupV2(const std::string& cgroup_root, Logger& log);

// --- mount propagation -------------------------------------------------------

// True when "/" is a shared mount according to `mountinfo` (the text of
// /proc/self/mountinfo).
bool RootIsShared(const std::string& mountinfo);

// --- privileges --------------------------------------------------------------

// The capabilities named in `cap_eff_hex` (CapEff from /proc/self/status) that
// a node needs and lacks, e.g. {"CAP_SYS_ADMIN"}.
std::vector<std::string> MissingCapabilities(uint64_t cap_eff);

// --- all of it ----------------------------------------------------------------

// Runs every step against the real system and returns the snapshotter to use.
// Steps that do not apply (cgroup v1 or hybrid hosts, not at a cgroup
// namespace root, "/" already shared) are skipped with a log line.
// Errors name what is missing and how to fix it, in one line.
Result<std::string> RunPreflight(const NodeConfig& config, Logger& log);

}  // namespace zlayer::init
