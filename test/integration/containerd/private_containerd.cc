#include "test/integration/containerd/private_containerd.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace zlayer::containerd::testing {

namespace {

namespace fs = std::filesystem;

constexpr const char* kContainerdBinary = "/usr/bin/containerd";
constexpr const char* kRuncBinary = "/usr/sbin/runc";
constexpr const char* kRuncStateRoot = "/run/containerd/runc";
constexpr const char* kFifoRoot = "/run/containerd/fifo";
constexpr const char* kCgroupRoot = "/sys/fs/cgroup";
constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kStopTimeout = std::chrono::seconds(10);

std::string UniqueNamespace() {
  std::random_device random;
  return fmt::format("zltest-{}-{:04x}", getpid(), random() & 0xffff);
}

// Runs argv to completion with stdout/stderr appended to `log_path`; returns
// the spawned pid (or -1), without waiting when `wait` is false.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log_path, bool wait) {
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  if (pid > 0 && wait) {
    int status = 0;
    waitpid(pid, &status, 0);
  }
  return pid;
}

// Waits for child `pid` up to `timeout`; true if it exited.
bool WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno == ECHILD)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<std::string> ReadCmdline(const fs::path& proc_dir) {
  std::ifstream in(proc_dir / "cmdline", std::ios::binary);
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  return args;
}

// Shims of `namespace_name` started by the daemon at `socket_path`.
std::vector<pid_t> FindShims(const std::string& namespace_name, const std::string& socket_path) {
  std::vector<pid_t> pids;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const auto args = ReadCmdline(entry.path());
    if (args.empty() || args[0].find("containerd-shim") == std::string::npos) continue;
    bool ours_namespace = false, ours_daemon = false;
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "-namespace" && args[i + 1] == namespace_name) ours_namespace = true;
      if (args[i] == "-address" && args[i + 1] == socket_path) ours_daemon = true;
    }
    if (ours_namespace && ours_daemon) pids.push_back(std::stoi(name));
  }
  return pids;
}

// Mount points at or under `dir`, deepest first. /proc/self/mountinfo escapes
// spaces and the like as \ooo.
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> result;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    fields >> id >> parent >> device >> root >> mount_point;
    std::string unescaped;
    for (size_t i = 0; i < mount_point.size(); ++i) {
      if (mount_point[i] == '\\' && i + 3 < mount_point.size()) {
        unescaped += static_cast<char>(std::stoi(mount_point.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        unescaped += mount_point[i];
      }
    }
    if (unescaped == dir || unescaped.rfind(dir + "/", 0) == 0) result.push_back(unescaped);
  }
  std::sort(result.begin(), result.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return result;
}

std::string SnapshotterFor(const std::string& dir) {
  struct statfs info {};
  if (statfs(dir.c_str(), &info) != 0) return "native";
  constexpr long kExt4Magic = 0xEF53;
  constexpr long kXfsMagic = 0x58465342;
  constexpr long kTmpfsMagic = 0x01021994;
  const long type = static_cast<long>(info.f_type);
  return type == kExt4Magic || type == kXfsMagic || type == kTmpfsMagic ? "overlayfs" : "native";
}

}  // namespace

PrivateContainerd::PrivateContainerd() : namespace_name_(UniqueNamespace()) {
  char dir_template[] = "/tmp/zl-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    start_status_ = ErrnoError("mkdtemp /tmp/zl-XXXXXX");
    return;
  }
  dir_ = dir_template;
  socket_path_ = dir_ + "/c.sock";
  config_path_ = dir_ + "/config.toml";
  log_path_ = dir_ + "/containerd.log";
  snapshotter_ = SnapshotterFor(dir_);

  std::ofstream config(config_path_);
  config << "version = 2\n"
         << "root = \"" << dir_ << "/root\"\n"
         << "state = \"" << dir_ << "/state\"\n"
         << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
         << "[grpc]\n  address = \"" << socket_path_ << "\"\n"
         << "[ttrpc]\n  address = \"" << socket_path_ << ".ttrpc\"\n";
  config.close();
  if (!config) {
    start_status_ = InternalError("writing " + config_path_);
    return;
  }
  start_status_ = Start();
}

PrivateContainerd::~PrivateContainerd() {
  if (dir_.empty()) return;
  KillNamespaceTasks();
  Stop();
  // After Stop: containerd reacts to killed shims by running `shim delete`,
  // which would make /run/containerd/runc/<ns> again.
  RemoveNamespaceLeftovers();
  for (const auto& mount_point : MountsUnder(dir_)) umount2(mount_point.c_str(), MNT_DETACH);
  std::error_code error;
  if (MountsUnder(dir_).empty()) fs::remove_all(dir_, error);
}

Status PrivateContainerd::Start() {
  if (pid_ > 0) return Status::Ok();
  pid_ = Spawn({kContainerdBinary, "--config", config_path_}, log_path_, /*wait=*/false);
  if (pid_ <= 0) {
    pid_ = -1;
    return InternalError(fmt::format("cannot start {}", kContainerdBinary));
  }
  return WaitUntilAnswering(kStartTimeout);
}

void PrivateContainerd::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  if (!WaitForExit(pid_, kStopTimeout)) {
    kill(pid_, SIGKILL);
    WaitForExit(pid_, kStopTimeout);
  }
  pid_ = -1;
}

Status PrivateContainerd::WaitUntilAnswering(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto client = NewClient(std::chrono::seconds(2));
  Status last;
  for (;;) {
    auto version = client->Version();
    if (version.ok()) return Status::Ok();
    last = version.status();
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return UnavailableError("containerd exited at start:\n" + LogTail());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return last.Wrap("containerd did not answer in time; log:\n" + LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::unique_ptr<Client> PrivateContainerd::NewClient(std::chrono::milliseconds call_timeout) const {
  ClientOptions options;
  options.socket_path = socket_path_;
  options.namespace_name = namespace_name_;
  options.call_timeout = call_timeout;
  return NewGrpcClient(options);
}

std::string PrivateContainerd::NewFifoDir() const {
  mkdir("/run/containerd", 0711);
  mkdir(kFifoRoot, 0700);
  std::string path = fmt::format("{}/{}-XXXXXX", kFifoRoot, namespace_name_);
  if (mkdtemp(path.data()) == nullptr) return "";
  return path;
}

std::string PrivateContainerd::LogTail() const {
  std::ifstream in(log_path_);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  std::string tail;
  for (size_t i = lines.size() > 30 ? lines.size() - 30 : 0; i < lines.size(); ++i) {
    tail += lines[i] + "\n";
  }
  return tail;
}

void PrivateContainerd::RemoveCgroups() {
  // runc makes /<namespace>/<id> in every hierarchy (the specs' cgroupsPath)
  // and removes only <id>. Empty cgroups are removed with rmdir, deepest first.
  std::error_code error;
  for (const auto& hierarchy : fs::directory_iterator(kCgroupRoot, error)) {
    const fs::path namespace_group = hierarchy.path() / namespace_name_;
    if (!fs::is_directory(namespace_group, error)) continue;
    for (const auto& container_group : fs::directory_iterator(namespace_group, error)) {
      if (container_group.is_directory(error)) rmdir(container_group.path().c_str());
    }
    rmdir(namespace_group.c_str());
  }
}

void PrivateContainerd::KillNamespaceTasks() {
  const std::string runc_root = fmt::format("{}/{}", kRuncStateRoot, namespace_name_);
  std::error_code error;
  // Containers a failed test left running: runc kills and deletes them.
  if (fs::is_directory(runc_root, error)) {
    for (const auto& entry : fs::directory_iterator(runc_root, error)) {
      Spawn({kRuncBinary, "--root", runc_root, "delete", "--force", entry.path().filename()},
            log_path_, /*wait=*/true);
    }
  }
  for (pid_t shim : FindShims(namespace_name_, socket_path_)) kill(shim, SIGKILL);
}

void PrivateContainerd::RemoveNamespaceLeftovers() {
  std::error_code error;
  fs::remove_all(fmt::format("{}/{}", kRuncStateRoot, namespace_name_), error);
  const std::string fifo_prefix = namespace_name_ + "-";
  for (const auto& entry : fs::directory_iterator(kFifoRoot, error)) {
    if (entry.path().filename().string().rfind(fifo_prefix, 0) == 0) {
      fs::remove_all(entry.path(), error);
    }
  }
  RemoveCgroups();
}

}  // namespace zlayer::containerd::testing
