#include "agent/runtime/runtime_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <set>

#include "agent/spec/kernel_names.h"

namespace zlayer::runtime {
namespace {

using nlohmann::json;

Status ServiceError(const spec::Service& service, std::string_view problem) {
  return InvalidArgumentError(fmt::format("service {}: {}", service.name, problem));
}

std::string_view EnvKey(std::string_view entry) { return entry.substr(0, entry.find('=')); }

// Replaces the entry with the same key in place, or appends.
void SetEnv(std::vector<std::string>* env, std::string entry) {
  std::string_view key = EnvKey(entry);
  for (std::string& existing : *env) {
    if (EnvKey(existing) == key) {
      existing = std::move(entry);
      return;
    }
  }
  env->push_back(std::move(entry));
}

// Capabilities in kernel bit order, which is also the order runc and Docker print them in.
std::vector<std::string> InBitOrder(const std::set<std::string>& names) {
  std::vector<std::string> ordered;
  for (std::string_view capability : spec::AllCapabilities()) {
    if (names.count(std::string(capability))) ordered.emplace_back(capability);
  }
  return ordered;
}

Result<std::set<std::string>> CanonicalSet(const spec::Service& service,
                                           const std::vector<std::string>& names,
                                           std::string_view field) {
  std::set<std::string> out;
  for (const std::string& name : names) {
    std::optional<std::string> canonical = spec::CanonicalCapability(name);
    if (!canonical) {
      return ServiceError(service, fmt::format("{}: unknown capability \"{}\"", field, name));
    }
    out.insert(*canonical);
  }
  return out;
}

json Mount(std::string_view destination, std::string_view type, std::string_view source,
           std::vector<std::string> options) {
  return json{{"destination", destination},
              {"type", type},
              {"source", source},
              {"options", std::move(options)}};
}

// containerd's oci.defaultMounts, in its order.
std::vector<json> DefaultMounts() {
  return {
      Mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      Mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      Mount("/run", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
  };
}

json BindMount(std::string_view destination, std::string_view source, bool readonly) {
  return Mount(destination, "bind", source, {"rbind", readonly ? "ro" : "rw"});
}

Result<json> StorageMount(const spec::Service& service, const spec::Storage& storage,
                          const ReplicaContext& ctx) {
  if (const auto* bind = std::get_if<spec::BindMount>(&storage)) {
    return BindMount(bind->target, bind->source, bind->readonly);
  }
  if (const auto* named = std::get_if<spec::NamedVolume>(&storage)) {
    auto dir = ctx.named_volume_dirs.find(named->name);
    if (dir == ctx.named_volume_dirs.end()) {
      return ServiceError(
          service, fmt::format("named volume \"{}\" has no directory on the node", named->name));
    }
    return BindMount(named->target, dir->second, named->readonly);
  }
  if (const auto* anonymous = std::get_if<spec::AnonymousVolume>(&storage)) {
    auto dir = ctx.anonymous_volume_dirs.find(anonymous->target);
    if (dir == ctx.anonymous_volume_dirs.end()) {
      return ServiceError(
          service,
          fmt::format("anonymous volume at {} has no directory on the node", anonymous->target));
    }
    return BindMount(anonymous->target, dir->second, /*readonly=*/false);
  }
  const auto& tmpfs = std::get<spec::TmpfsMount>(storage);
  std::vector<std::string> options = {"nosuid", "nodev"};
  if (tmpfs.size_bytes) options.push_back(fmt::format("size={}", *tmpfs.size_bytes));
  if (tmpfs.mode) options.push_back(fmt::format("mode={:o}", *tmpfs.mode));
  return Mount(tmpfs.target, "tmpfs", "tmpfs", std::move(options));
}

Result<json> Mounts(const spec::Service& service, const ReplicaContext& ctx) {
  std::vector<json> storage;
  std::set<std::string> taken;
  for (const spec::Storage& item : service.storage) {
    auto mount = StorageMount(service, item, ctx);
    if (!mount.ok()) return mount.status();
    taken.insert((*mount)["destination"].get<std::string>());
    storage.push_back(std::move(*mount));
  }

  std::vector<json> mounts = DefaultMounts();
  // Nested runtimes in a privileged container manage cgroups themselves (Docker does the
  // same); everyone else only reads them.
  mounts.push_back(
      Mount("/sys/fs/cgroup", "cgroup", "cgroup",
            {"nosuid", "noexec", "nodev", "relatime", service.privileged ? "rw" : "ro"}));
  const std::pair<const char*, const std::string*> generated[] = {
      {"/etc/hosts", &ctx.files.hosts},
      {"/etc/resolv.conf", &ctx.files.resolv_conf},
      {"/etc/hostname", &ctx.files.hostname},
  };
  for (const auto& [destination, source] : generated) {
    if (!source->empty()) mounts.push_back(BindMount(destination, *source, /*readonly=*/true));
  }

  json out = json::array();
  for (json& mount : mounts) {
    if (!taken.count(mount["destination"].get<std::string>())) out.push_back(std::move(mount));
  }
  for (json& mount : storage) out.push_back(std::move(mount));
  return out;
}

json DeviceRule(bool allow, std::string_view type, int64_t major, std::optional<int64_t> minor) {
  json rule = {{"allow", allow}, {"type", type}, {"major", major}, {"access", "rwm"}};
  if (minor) rule["minor"] = *minor;
  return rule;
}

json Devices(bool privileged) {
  if (privileged) return json::array({{{"allow", true}, {"access", "rwm"}}});
  return json::array({
      {{"allow", false}, {"access", "rwm"}},
      DeviceRule(true, "c", 1, 3),     // /dev/null
      DeviceRule(true, "c", 1, 8),     // /dev/random
      DeviceRule(true, "c", 1, 7),     // /dev/full
      DeviceRule(true, "c", 5, 0),     // /dev/tty
      DeviceRule(true, "c", 1, 5),     // /dev/zero
      DeviceRule(true, "c", 1, 9),     // /dev/urandom
      DeviceRule(true, "c", 5, 1),     // /dev/console
      DeviceRule(true, "c", 136, {}),  // /dev/pts/*
      DeviceRule(true, "c", 5, 2),     // /dev/ptmx
  });
}

json Resources(const spec::Service& service) {
  json resources = {{"devices", Devices(service.privileged)}};
  if (service.resources.cpu) {
    // The kernel refuses a quota below 1ms.
    auto quota = static_cast<int64_t>(std::llround(*service.resources.cpu * kCpuPeriodMicros));
    resources["cpu"] = {{"quota", std::max<int64_t>(quota, 1000)},
                        {"period", static_cast<uint64_t>(kCpuPeriodMicros)}};
  }
  if (service.resources.memory_bytes) {
    uint64_t limit =
        std::min<uint64_t>(*service.resources.memory_bytes, std::numeric_limits<int64_t>::max());
    resources["memory"] = {{"limit", static_cast<int64_t>(limit)}};
  }
  if (service.resources.pids_limit) {
    resources["pids"] = {{"limit", *service.resources.pids_limit}};
  }
  return resources;
}

std::string WorkingDir(const spec::Service& service, const oci::ImageConfig& image) {
  if (service.command.workdir && !service.command.workdir->empty()) {
    return *service.command.workdir;
  }
  if (image.working_dir.empty()) return "/";
  // runc needs an absolute cwd; Docker resolves a relative WORKDIR against "/".
  if (image.working_dir.front() != '/') return "/" + image.working_dir;
  return image.working_dir;
}

}  // namespace

std::string NamedVolumeDir(std::string_view data_dir, std::string_view name) {
  return fmt::format("{}/volumes/{}", data_dir, name);
}

std::string AnonymousVolumeDir(std::string_view container_dir, std::string_view target) {
  std::string escaped;
  for (unsigned char c : target.substr(target.starts_with('/') ? 1 : 0)) {
    if (c == '/') {
      escaped += '-';
    } else if (std::isalnum(c) || c == '.' || c == '_') {
      escaped += static_cast<char>(c);
    } else {
      escaped += fmt::format("%{:02X}", c);
    }
  }
  return fmt::format("{}/volumes/{}", container_dir, escaped);
}

const std::vector<std::string>& DefaultCapabilities() {
  static const std::vector<std::string> kDefault = InBitOrder({
      "CAP_CHOWN",
      "CAP_DAC_OVERRIDE",
      "CAP_FSETID",
      "CAP_FOWNER",
      "CAP_MKNOD",
      "CAP_NET_RAW",
      "CAP_SETGID",
      "CAP_SETUID",
      "CAP_SETFCAP",
      "CAP_SETPCAP",
      "CAP_NET_BIND_SERVICE",
      "CAP_SYS_CHROOT",
      "CAP_KILL",
      "CAP_AUDIT_WRITE",
  });
  return kDefault;
}

Result<std::vector<std::string>> ProcessArgs(const spec::Service& service,
                                             const oci::ImageConfig& image) {
  const auto& entrypoint = service.command.entrypoint;
  const auto& args = service.command.args;
  std::vector<std::string> argv;
  auto append = [&argv](const std::optional<std::vector<std::string>>& part) {
    if (part) argv.insert(argv.end(), part->begin(), part->end());
  };
  if (!entrypoint) {
    append(image.entrypoint);
    append(args ? args : image.cmd);
  } else if (!entrypoint->empty()) {
    append(entrypoint);
    append(args);
  } else {
    append(args ? args : image.cmd);
  }
  if (argv.empty()) {
    return ServiceError(service,
                        "nothing to run: neither the service's command nor the image's "
                        "ENTRYPOINT/CMD gives a program");
  }
  return argv;
}

std::vector<std::string> ProcessEnv(const spec::Service& service, const oci::ImageConfig& image,
                                    const std::vector<std::string>& extra_env) {
  std::vector<std::string> env;
  for (const std::string& entry : image.env) SetEnv(&env, entry);
  for (const std::string& entry : extra_env) SetEnv(&env, entry);
  for (const auto& [key, value] : service.env) SetEnv(&env, key + "=" + value);
  bool has_path = std::any_of(env.begin(), env.end(),
                              [](const std::string& entry) { return EnvKey(entry) == "PATH"; });
  if (!has_path) env.insert(env.begin(), kDefaultPath);
  return env;
}

Result<std::vector<std::string>> Capabilities(const spec::Service& service,
                                              const CapabilitySet& node_capabilities) {
  std::set<std::string> wanted;
  if (service.privileged) {
    wanted.insert(node_capabilities.begin(), node_capabilities.end());
  } else {
    auto add = CanonicalSet(service, service.cap_add, "cap_add");
    if (!add.ok()) return add.status();
    auto drop = CanonicalSet(service, service.cap_drop, "cap_drop");
    if (!drop.ok()) return drop.status();
    if (add->count("ALL")) {
      for (std::string_view capability : spec::AllCapabilities()) {
        if (!drop->count(std::string(capability))) wanted.emplace(capability);
      }
    } else if (drop->count("ALL")) {
      wanted = *add;
    } else {
      for (const std::string& capability : DefaultCapabilities()) {
        if (!drop->count(capability)) wanted.insert(capability);
      }
      wanted.insert(add->begin(), add->end());
    }
  }
  std::set<std::string> granted;
  for (const std::string& capability : wanted) {
    if (node_capabilities.count(capability)) granted.insert(capability);
  }
  return InBitOrder(granted);
}

Result<json> Rlimits(const spec::Service& service, const RlimitMap& node_hard_limits) {
  std::map<std::string, spec::Ulimit> wanted;
  wanted["RLIMIT_NOFILE"] = spec::Ulimit{kDefaultNofile, kDefaultNofile};
  for (const auto& [name, ulimit] : service.ulimits) {
    if (!spec::UlimitResource(name)) {
      return ServiceError(service, fmt::format("ulimits: unknown limit \"{}\"", name));
    }
    wanted[RlimitType(name)] = ulimit;
  }
  json rlimits = json::array();
  for (const auto& [type, ulimit] : wanted) {
    uint64_t ceiling = UINT64_MAX;
    if (auto node = node_hard_limits.find(type); node != node_hard_limits.end()) {
      ceiling = node->second;
    }
    rlimits.push_back({{"type", type},
                       {"hard", std::min(ulimit.hard, ceiling)},
                       {"soft", std::min(ulimit.soft, ceiling)}});
  }
  return rlimits;
}

Result<json> BuildRuntimeSpec(const spec::Service& service, const oci::ImageConfig& image,
                              const ReplicaContext& ctx) {
  if (ctx.container_id.empty()) return ServiceError(service, "no container id");
  if (ctx.namespace_name.empty()) return ServiceError(service, "no containerd namespace");

  auto args = ProcessArgs(service, image);
  if (!args.ok()) return args.status();
  auto capabilities = Capabilities(service, ctx.node_capabilities);
  if (!capabilities.ok()) return capabilities.status();
  auto rlimits = Rlimits(service, ctx.node_hard_limits);
  if (!rlimits.ok()) return rlimits.status();
  auto mounts = Mounts(service, ctx);
  if (!mounts.ok()) return mounts.status();

  json process = {
      {"terminal", false},
      {"user",
       {{"uid", ctx.user.uid},
        {"gid", ctx.user.gid},
        {"additionalGids", ctx.user.additional_gids}}},
      {"args", *args},
      {"env", ProcessEnv(service, image, ctx.extra_env)},
      {"cwd", WorkingDir(service, image)},
      {"capabilities",
       {{"bounding", *capabilities}, {"effective", *capabilities}, {"permitted", *capabilities}}},
      {"rlimits", *rlimits},
      {"noNewPrivileges", !service.privileged},
  };

  json namespaces =
      json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
  if (!ctx.network_namespace.empty()) {
    namespaces.push_back({{"type", "network"}, {"path", ctx.network_namespace}});
  }
  json linux = {
      {"resources", Resources(service)},
      {"cgroupsPath", fmt::format("/{}/{}", ctx.namespace_name, ctx.container_id)},
      {"namespaces", std::move(namespaces)},
  };
  if (service.privileged) {
    linux["maskedPaths"] = json::array();
    linux["readonlyPaths"] = json::array();
  } else {
    linux["maskedPaths"] = {"/proc/acpi",        "/proc/asound",        "/proc/kcore",
                            "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                            "/proc/timer_stats", "/proc/sched_debug",   "/sys/firmware",
                            "/proc/scsi"};
    linux["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"};
  }

  return json{
      {"ociVersion", kOciVersion},
      {"process", std::move(process)},
      {"root", {{"path", "rootfs"}, {"readonly", service.read_only_root_fs}}},
      {"hostname", ctx.hostname.empty() ? service.hostname : ctx.hostname},
      {"mounts", std::move(*mounts)},
      {"linux", std::move(linux)},
  };
}

}  // namespace zlayer::runtime
