// zlayer-init with the real containerd (Debian's, with runc): a client
// reaches it, a running container survives kill -9 of containerd (its shim
// does), and SIGTERM to zlayer-init leaves no process of the node behind.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "test/integration/supervisor/node.h"
#include "test/support/files.h"
#include "test/support/proc.h"

using namespace zlayer::testing;
using namespace std::chrono_literals;

namespace {

// What containerd, runc and ctr leave outside the test directory when the
// node is stopped the hard way (the sweep kills the shim): runc state, the
// shim socket, ctr's FIFOs and the container's cgroups. Removed on scope exit.
class ContainerdLitter {
 public:
  ContainerdLitter(std::string socket, std::string ns, std::string id)
      : socket_(std::move(socket)), ns_(std::move(ns)), id_(std::move(id)) {}
  ~ContainerdLitter() {
    namespace fs = std::filesystem;
    std::error_code ignored;
    fs::remove_all("/run/containerd/runc/" + ns_, ignored);
    // containerd 1.6 names a shim's socket sha256(<address>/<namespace>/<id>).
    RunResult hash = Run(
        {"sh", "-c", "printf %s \"$1\" | sha256sum", "sh", socket_ + "/" + ns_ + "/" + id_}, 10s);
    std::vector<std::string> words = SplitWords(hash.out);
    if (!words.empty()) fs::remove("/run/containerd/s/" + words[0], ignored);
    for (const auto& dir : fs::directory_iterator("/run/containerd/fifo", ignored)) {
      if (fs::exists(dir.path() / (id_ + "-stdout"), ignored)) fs::remove_all(dir.path(), ignored);
    }
    for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ignored)) {
      rmdir((hierarchy.path() / ns_ / id_).c_str());
      rmdir((hierarchy.path() / ns_).c_str());
    }
  }

 private:
  std::string socket_, ns_, id_;
};

// A root filesystem with a static busybox as /bin/sh and /bin/sleep.
void MakeBusyboxRootfs(const std::string& rootfs) {
  std::filesystem::create_directories(rootfs + "/bin");
  std::filesystem::copy_file("/bin/busybox", rootfs + "/bin/busybox");
  chmod((rootfs + "/bin/busybox").c_str(), 0755);
  std::filesystem::create_symlink("busybox", rootfs + "/bin/sh");
  std::filesystem::create_symlink("busybox", rootfs + "/bin/sleep");
}

struct Task {
  std::string pid;
  std::string status;
};

// The task `id` as `ctr task ls` reports it; empty when ctr fails.
Task TaskOf(const std::vector<std::string>& ctr, const std::string& id) {
  std::vector<std::string> argv = ctr;
  argv.insert(argv.end(), {"task", "ls"});
  RunResult ls = Run(argv, 10s);
  if (ls.status != ExitStatus::Exited(0)) return {};
  for (const std::string& line : SplitLines(ls.out)) {
    std::vector<std::string> words = SplitWords(line);
    if (words.size() >= 3 && words[0] == id) return {words[1], words[2]};
  }
  return {};
}

}  // namespace

TEST_CASE(
    "With the real containerd, a container survives kill -9 of containerd, and SIGTERM to "
    "zlayer-init leaves no process of the node behind") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  // The container's init ignores SIGTERM (PID 1 of its namespace, no
  // handler), so the final sweep waits out the budget before SIGKILL: a
  // shorter budget than the default 9 s keeps the test quick.
  Node node(
      {.mode = mode,
       .env = {{"ZLAYER_CONTAINERD_BIN", "/usr/bin/containerd"}, {"ZLAYER_STOP_TIMEOUT", "4s"}}});
  const std::string suffix = node.dir().path().substr(node.dir().path().rfind('-') + 1);
  const std::string ns = "zltest-" + suffix;
  const std::string id = "sleeper-" + suffix;
  const std::string socket = node.Path("ctrd.sock");
  ContainerdLitter litter(socket, ns, id);
  MakeBusyboxRootfs(node.Path("rootfs"));
  const std::vector<std::string> ctr = {"ctr", "--address", socket, "-n", ns};
  auto ctr_with = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = ctr;
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };

  node.Start();
  INFO("the agent starts only once containerd has sent READY=1");
  REQUIRE(node.WaitForEvent("agent-idle"));
  CHECK(node.CountLogLines("containerd is ready") >= 1);
  RunResult version = Run(ctr_with({"version"}), 20s);
  INFO("ctr version: " << version.out << version.err);
  REQUIRE(version.status == ExitStatus::Exited(0));

  RunResult run = Run(
      ctr_with({"run", "-d", "--rootfs", node.Path("rootfs"), id, "/bin/sh", "-c", "sleep 1000"}),
      20s);
  INFO("ctr run: " << run.out << run.err);
  REQUIRE(run.status == ExitStatus::Exited(0));
  const Task task = TaskOf(ctr, id);
  REQUIRE(task.status == "RUNNING");

  pid_t sleeper = 0, shim = 0;
  REQUIRE(WaitUntil([&] {
    for (pid_t pid : node.Descendants()) {
      std::vector<std::string> argv = ProcArgv(pid);
      if (argv == std::vector<std::string>{"sleep", "1000"}) sleeper = pid;
      if (!argv.empty() && argv[0].ends_with("containerd-shim-runc-v2") &&
          ProcCmdline(pid).find(" " + ns + " ") != std::string::npos) {
        shim = pid;
      }
    }
    return sleeper != 0 && shim != 0;
  }));
  const pid_t containerd = node.ChildRunning("/usr/bin/containerd");
  REQUIRE(containerd != 0);
  const pid_t agent = node.SlotPid(Slot::kAgent);

  kill(containerd, SIGKILL);

  INFO("a new containerd comes up and finds the container still running, same pid");
  pid_t new_containerd = 0;
  REQUIRE(WaitUntil([&] {
    new_containerd = node.ChildRunning("/usr/bin/containerd");
    return new_containerd != 0 && new_containerd != containerd;
  }));
  CHECK(node.WaitForLog("containerd is ready", 2));
  Task after;
  CHECK(WaitUntil(
      [&] {
        after = TaskOf(ctr, id);
        return after.status == "RUNNING";
      },
      kHangTimeout, 200ms));
  CHECK(after.pid == task.pid);
  CHECK(IsAlive(shim));
  CHECK(IsAlive(sleeper));
  CHECK(node.SlotPid(Slot::kAgent) == agent);

  INFO("SIGTERM: zlayer-init exits 0, and containerd, the shim and the container are gone");
  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
  CHECK_FALSE(IsAlive(new_containerd));
  CHECK_FALSE(IsAlive(shim));
  CHECK_FALSE(IsAlive(sleeper));
  CHECK(node.Leftovers().empty());
}
