// The OCI runtime spec (config.json, runtime-spec 1.0.2) of one replica: a pure function of
// the service, its image's config and what the caller found out about the node and the
// replica. It starts from containerd 1.6's default Unix spec (oci.populateDefaultUnixSpec,
// WithDefaultUnixDevices) and applies the image config and the service with Docker's rules,
// never asking for more than the node may grant (node_limits.h): runc refuses a capability
// outside its own bounding set and an rlimit above its own hard limit.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "agent/oci/image_config.h"
#include "agent/runtime/node_limits.h"
#include "agent/runtime/user.h"
#include "agent/spec/model.h"
#include "common/status.h"

namespace zlayer::runtime {

inline constexpr const char* kOciVersion = "1.0.2-dev";
inline constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// Docker's nofile default (dockerd's own limit), before clamping to the node's hard limit.
inline constexpr uint64_t kDefaultNofile = 1048576;
inline constexpr int64_t kCpuPeriodMicros = 100000;

// Host paths of the files the agent generated for this replica (etc_files.h). Each is
// bind-mounted read-only over the file of the same name in /etc; "" mounts nothing there.
struct GeneratedFiles {
  std::string hosts;
  std::string resolv_conf;
  std::string hostname;
};

// What the caller knows about the node and this replica. Paths must exist when the task
// starts; creating them is the caller's job.
struct ReplicaContext {
  std::string container_id;    // a valid containerd id, e.g. "hello-web-0"
  std::string namespace_name;  // the containerd namespace; cgroupsPath is /<namespace>/<id>
  std::string hostname;        // "" means the service's hostname
  // The network namespace the container joins (a path); "" shares the node's.
  std::string network_namespace;
  CapabilitySet node_capabilities;  // NodeCapabilities()
  RlimitMap node_hard_limits;       // NodeHardLimits(); a type missing here is not clamped
  GeneratedFiles files;
  // Host directory of each named volume the service mounts, by volume name
  // (NamedVolumeDir(data_dir, name)).
  std::map<std::string, std::string> named_volume_dirs;
  // Host directory of each anonymous volume, by target (AnonymousVolumeDir(...)).
  std::map<std::string, std::string> anonymous_volume_dirs;
  ResolvedUser user;  // ResolveUser(EffectiveUser(service, image), passwd, group)
  // "KEY=value" entries the node adds; the image's env is overridden by them, and they by
  // the service's env.
  std::vector<std::string> extra_env;
};

// "<data_dir>/volumes/<name>".
std::string NamedVolumeDir(std::string_view data_dir, std::string_view name);

// "<container_dir>/volumes/<escaped target>": one directory per anonymous volume inside a
// directory owned by the container, removed with it. The escape is reversible ('/' becomes
// '-', bytes other than [A-Za-z0-9._] become %XX), so two targets never share a directory.
std::string AnonymousVolumeDir(std::string_view container_dir, std::string_view target);

// containerd's and Docker's default capabilities (14), in kernel bit order.
const std::vector<std::string>& DefaultCapabilities();

// The process arguments under Docker's rules (daemon's merge of run config and image
// config), with `entrypoint` and `args` from the service's `command`:
//   entrypoint   args      argv
//   unset        unset     image ENTRYPOINT + image CMD
//   unset        set       image ENTRYPOINT + args
//   non-empty    unset     entrypoint                      (image CMD dropped)
//   non-empty    set       entrypoint + args
//   []           unset     image CMD                       (docker run --entrypoint "")
//   []           set       args
// An `args: []` is an empty CMD, not "keep the image's". An empty result is
// kInvalidArgument naming the service.
Result<std::vector<std::string>> ProcessArgs(const spec::Service& service,
                                             const oci::ImageConfig& image);

// The environment: image Env, then ctx.extra_env, then the service's env; a later entry
// replaces an earlier one with the same key in place, new keys are appended. PATH is
// prepended with kDefaultPath when no entry sets it.
std::vector<std::string> ProcessEnv(const spec::Service& service, const oci::ImageConfig& image,
                                    const std::vector<std::string>& extra_env);

// The capability list (bounding = effective = permitted), in kernel bit order:
//   privileged         every capability in the node's bounding set (cap_add/cap_drop ignored,
//                      as Docker does)
//   cap_add has ALL    every capability except those in cap_drop
//   cap_drop has ALL   exactly cap_add
//   otherwise          DefaultCapabilities() minus cap_drop, plus cap_add
// and in every case intersected with `node_capabilities`. Names may be "CAP_X", "X" or
// lower case; an unknown name is kInvalidArgument naming it.
Result<std::vector<std::string>> Capabilities(const spec::Service& service,
                                              const CapabilitySet& node_capabilities);

// The rlimits as OCI JSON objects {type, hard, soft}, sorted by type: RLIMIT_NOFILE
// kDefaultNofile/kDefaultNofile, then each of the service's ulimits (replacing the default
// for nofile); every soft and hard value clamped to the node's hard limit for that type.
// An unknown ulimit name is kInvalidArgument naming it.
Result<nlohmann::json> Rlimits(const spec::Service& service, const RlimitMap& node_hard_limits);

// The whole runtime spec for one replica: ociVersion, process (args, env, cwd = command
// workdir, else image WorkingDir, else "/"; user; capabilities; rlimits; noNewPrivileges
// unless privileged; no terminal), root ("rootfs", readonly = read_only_root_fs), hostname,
// mounts (containerd's defaults, a cgroup mount, the generated /etc files, then storage in
// spec order; a storage target replaces a default or generated mount at the same
// destination), and linux (namespaces pid, ipc, uts, mount and no network namespace;
// cgroupsPath; resources: devices, cpu, memory, pids; masked and read-only paths unless
// privileged).
//
// Errors (kInvalidArgument, message starting with "service <name>: "): an empty argv, an
// unknown capability or ulimit name, a named or anonymous volume without a directory in
// ctx, an empty container id or namespace.
Result<nlohmann::json> BuildRuntimeSpec(const spec::Service& service, const oci::ImageConfig& image,
                                        const ReplicaContext& ctx);

}  // namespace zlayer::runtime
