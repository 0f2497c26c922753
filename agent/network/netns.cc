#include "agent/network/netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <thread>

namespace zlayer::agent::network {
namespace {

Status MakeDirs(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoError("mkdir " + prefix);
    }
    if (slash == std::string::npos) return Status::Ok();
  }
}

// From /proc/self/mountinfo, not st_dev: a directory bound onto itself keeps its
// device. (glibc 2.36's struct statx has no stx_mnt_id.)
bool IsMountPoint(const std::string& dir) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    fields >> id >> parent >> device >> root >> mount_point;
    if (mount_point == dir) return true;
  }
  return false;
}

// As `ip netns` does with /run/netns: the directory becomes a shared mount of its
// own, so a namespace mounted or unmounted here propagates to mount namespaces
// cloned from ours later, and an unmount here is not held up by their copies.
Status MakeSharedDir(const std::string& dir) {
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return Status::Ok();
  if (errno != EINVAL) return ErrnoError("mount --make-shared " + dir);
  // EINVAL: not a mount point yet; bind it onto itself first.
  if (!IsMountPoint(dir) &&
      ::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0) {
    return ErrnoError("mount --bind " + dir);
  }
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) {
    return ErrnoError("mount --make-shared " + dir);
  }
  return Status::Ok();
}

// In a thread of its own, because unshare(CLONE_NEWNET) moves the calling thread
// into the new namespace for good; the thread ends, the bind mount keeps it.
Status MountNewNamespace(const std::string& path) {
  Status status;
  std::thread worker([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      status = ErrnoError("unshare(CLONE_NEWNET)");
      return;
    }
    if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      status = ErrnoError("mount --bind /proc/thread-self/ns/net " + path);
    }
  });
  worker.join();
  return status;
}

}  // namespace

Netns::Netns(std::string run_dir) : dir_(std::move(run_dir) + "/netns") {}

std::string Netns::PathOf(const std::string& name) const { return dir_ + "/" + name; }

Status Netns::PrepareDir() {
  std::lock_guard lock(dir_mutex_);
  if (dir_ready_) return Status::Ok();
  ZLAYER_RETURN_IF_ERROR(MakeDirs(dir_));
  if (!IsMountPoint(dir_)) ZLAYER_RETURN_IF_ERROR(MakeSharedDir(dir_));
  dir_ready_ = true;
  return Status::Ok();
}

Result<std::string> Netns::Create(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return InvalidArgumentError(fmt::format("netns \"{}\": not a valid name", name));
  }
  const std::string path = PathOf(name);
  Status status = PrepareDir();
  if (!status.ok()) return status.Wrap("netns " + name);

  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) {
    if (errno == EEXIST) return AlreadyExistsError(fmt::format("netns {}: {} exists", name, path));
    return ErrnoError("netns " + name + ": create " + path);
  }
  ::close(fd);
  status = MountNewNamespace(path);
  if (!status.ok()) {
    ::unlink(path.c_str());
    return status.Wrap("netns " + name);
  }
  return path;
}

Status Netns::Remove(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return InvalidArgumentError(fmt::format("netns \"{}\": not a valid name", name));
  }
  const std::string path = PathOf(name);
  // MNT_DETACH: a process that still has the file open does not make this fail.
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return ErrnoError("netns " + name + ": umount " + path);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError("netns " + name + ": unlink " + path);
  }
  return Status::Ok();
}

bool Netns::IsNamespace(const std::string& name) const {
  struct statfs fs {};
  return ::statfs(PathOf(name).c_str(), &fs) == 0 &&
         static_cast<unsigned long>(fs.f_type) == NSFS_MAGIC;
}

Result<std::vector<std::string>> Netns::List() const {
  std::vector<std::string> names;
  DIR* dir = ::opendir(dir_.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return names;
    return ErrnoError("netns: list " + dir_);
  }
  while (struct dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(dir);
  return names;
}

}  // namespace zlayer::agent::network
