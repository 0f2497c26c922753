#include "supervisor/preflight.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace zlayer::init {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Appending is how `echo PID >> cgroup.procs` writes; each write(2) is one
// request to the cgroup filesystem.
Status AppendFile(const std::string& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + path);
  ssize_t n = ::write(fd, content.data(), content.size());
  int err = errno;
  ::close(fd);
  if (n < 0) return ErrnoError("write " + path, err);
  return Status::Ok();
}

}  // namespace

Result<SnapshotterChoice> ChooseSnapshotter(const std::string& requested, bool pinned,
                                            bool root_on_overlayfs, const std::string& root) {
  if (requested != "overlayfs" || !root_on_overlayfs) return SnapshotterChoice{requested, ""};
  if (pinned) {
    return FailedPreconditionError(
        root + " is on overlayfs, where the overlayfs snapshotter cannot mount layers; mount a "
               "volume there (docker run -v " + root + ") or set ZLAYER_SNAPSHOTTER=native");
  }
  return SnapshotterChoice{
      "native", root + " is on overlayfs, so the overlayfs snapshotter cannot work there; using "
                "the slower native snapshotter (mount a volume at " + root + " to avoid this)"};
}

Result<bool> IsOnOverlayfs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Status(StatusCode::kFailedPrecondition, "create " + path + ": " + ec.message());
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return ErrnoError("statfs " + path);
  return static_cast<unsigned long>(fs.f_type) == OVERLAYFS_SUPER_MAGIC;
}

bool NeedsCgroupNesting(const std::string& proc_self_cgroup, bool cgroup_mount_is_v2) {
  // On a pure cgroup v2 host /proc/self/cgroup is the single line "0::<path>".
  return cgroup_mount_is_v2 && (proc_self_cgroup == "0::/\n" || proc_self_cgroup == "0::/");
}

Status NestCgroupV2(const std::string& cgroup_root, Logger& log) {
  const std::string init_dir = cgroup_root + "/init";
  if (::mkdir(init_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoError("create " + init_dir);
  }
  std::string controllers = ReadFile(cgroup_root + "/cgroup.controllers");
  std::string enable;
  {
    std::istringstream words(controllers);
    std::string c;
    while (words >> c) enable += (enable.empty() ? "+" : " +") + c;
  }
  Status last = Status::Ok();
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::istringstream procs(ReadFile(cgroup_root + "/cgroup.procs"));
    std::string pid;
    while (procs >> pid) {
      Status moved = AppendFile(init_dir + "/cgroup.procs", pid + "\n");
      // A process that exited in between is fine; anything else is not.
      if (!moved.ok() && moved.code() != StatusCode::kNotFound &&
          moved.message().find("No such process") == std::string::npos) {
        return moved.Wrap("move pid " + pid + " into " + init_dir);
      }
    }
    if (enable.empty()) return Status::Ok();
    last = AppendFile(cgroup_root + "/cgroup.subtree_control", enable);
    if (last.ok()) {
      log.Info("cgroup v2: moved processes into {} and enabled {}", init_dir, enable);
      return Status::Ok();
    }
    // EBUSY: a process (docker exec) entered the root cgroup meanwhile; again.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return last.Wrap("enable cgroup controllers in " + cgroup_root);
}

bool RootIsShared(const std::string& mountinfo) {
  // Fields: id parent major:minor root mount-point options [optional...] - ...
  std::istringstream lines(mountinfo);
  std::string line;
  bool shared = false;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point, options, field;
    fields >> id >> parent >> dev >> root >> mount_point >> options;
    if (mount_point != "/") continue;
    shared = false;  // the last mount on "/" is the visible one
    while (fields >> field && field != "-") {
      if (field.rfind("shared:", 0) == 0) shared = true;
    }
  }
  return shared;
}

std::vector<std::string> MissingCapabilities(uint64_t cap_eff) {
  constexpr int kCapSysAdmin = 21;
  std::vector<std::string> missing;
  if ((cap_eff & (uint64_t{1} << kCapSysAdmin)) == 0) missing.push_back("CAP_SYS_ADMIN");
  return missing;
}

Result<std::string> RunPreflight(const NodeConfig& config, Logger& log) {
  // Privileges first: without them every later step fails less clearly.
  uint64_t cap_eff = 0;
  {
    std::istringstream status(ReadFile("/proc/self/status"));
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("CapEff:", 0) == 0) cap_eff = std::stoull(line.substr(7), nullptr, 16);
    }
  }
  if (auto missing = MissingCapabilities(cap_eff); !missing.empty()) {
    return PermissionDeniedError(
        "missing " + missing[0] +
        ": containerd cannot create mounts, namespaces and cgroups; run the node container "
        "with --privileged");
  }

  auto on_overlay = IsOnOverlayfs(config.containerd_root);
  if (!on_overlay.ok()) return on_overlay.status().Wrap("snapshotter root");
  auto choice = ChooseSnapshotter(config.snapshotter, config.snapshotter_pinned, *on_overlay,
                                  config.containerd_root);
  if (!choice.ok()) return choice.status();
  if (!choice->warning.empty()) log.Warn("{}", choice->warning);

  struct statfs fs {};
  bool v2 = ::statfs("/sys/fs/cgroup", &fs) == 0 &&
            static_cast<unsigned long>(fs.f_type) == CGROUP2_SUPER_MAGIC;
  if (NeedsCgroupNesting(ReadFile("/proc/self/cgroup"), v2)) {
    ZLAYER_RETURN_IF_ERROR(NestCgroupV2("/sys/fs/cgroup", log));
  } else {
    log.Info("cgroup nesting skipped: {}", v2 ? "not at the root of a cgroup namespace"
                                               : "cgroup v1 or hybrid host");
  }

  if (RootIsShared(ReadFile("/proc/self/mountinfo"))) {
    log.Debug("mount propagation: / is already shared");
  } else if (::mount(nullptr, "/", nullptr, MS_REC | MS_SHARED, nullptr) != 0) {
    return ErrnoError("make / rshared (needed for bind mounts with propagation in workloads)");
  } else {
    log.Info("mount propagation: made / rshared");
  }
  return choice->snapshotter;
}

}  // namespace zlayer::init
