#include "test/support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "test/support/proc.h"
#include "test/support/wait_until.h"

extern char** environ;

namespace zlayer::testing {
namespace {

std::runtime_error Error(const std::string& what, int err) {
  return std::runtime_error(what + ": " + std::error_code(err, std::generic_category()).message());
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (const std::string& s : strings) result.push_back(const_cast<char*>(s.c_str()));
  result.push_back(nullptr);
  return result;
}

// The kernel's struct sigaction for rt_sigaction(2). glibc's sigaction()
// refuses its two internal signals (32 and 33), and glibc's posix_spawn
// leaves exactly those two ignored in the child, so the child resets every
// disposition with the raw system call instead.
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  std::uint64_t mask;
};

// Spawns with a clean slate: empty mask, default dispositions for every
// signal, own process group, fds 0-2 only. `stdout_fd`/`stderr_fd` >= 0 are
// dup2'ed to 1/2, otherwise the paths (or /dev/null) are opened. Uses fork
// (the test process has one thread) and only system calls in the child.
pid_t Spawn(const SpawnOptions& options, int stdout_fd, int stderr_fd) {
  if (options.argv.empty()) throw std::runtime_error("spawn: empty argv");
  std::vector<char*> argv = CStrings(options.argv);
  std::vector<char*> envp = CStrings(options.env);
  auto output_path = [](const std::string& path) {
    return path.empty() ? std::string("/dev/null") : path;
  };
  const std::string out_path = output_path(options.stdout_path);
  const std::string err_path = output_path(options.stderr_path);
  // The child reports a failed exec through this close-on-exec pipe.
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) throw Error("pipe2", errno);

  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(report[0]);
    close(report[1]);
    throw Error("fork", err);
  }
  if (pid == 0) {
    auto fail = [&](int err) {
      ssize_t ignored = write(report[1], &err, sizeof err);
      (void)ignored;
      _exit(127);
    };
    KernelSigaction dfl{};
    dfl.handler = SIG_DFL;
    for (int sig = 1; sig <= 64; ++sig) syscall(SYS_rt_sigaction, sig, &dfl, nullptr, 8);
    std::uint64_t empty_mask = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty_mask, nullptr, 8);
    setpgid(0, 0);
    int in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0) fail(errno);
    auto redirect = [&](int target, int fd, const std::string& path) {
      if (fd < 0) fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd < 0 || dup2(fd, target) < 0) fail(errno);
    };
    redirect(1, stdout_fd, out_path);
    redirect(2, stderr_fd, err_path);
    // Everything else goes, except the report pipe (close-on-exec anyway).
    for (int fd = 3; fd < report[1]; ++fd) close(fd);
    syscall(SYS_close_range, report[1] + 1, ~0U, 0);
    if (options.argv[0].find('/') == std::string::npos) {
      execvpe(argv[0], argv.data(), envp.data());
    } else {
      execve(argv[0], argv.data(), envp.data());
    }
    fail(errno);
  }
  close(report[1]);
  int err = 0;
  ssize_t n;
  do {
    n = read(report[0], &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == static_cast<ssize_t>(sizeof err)) {
    int status;
    waitpid(pid, &status, 0);
    throw Error("spawn " + options.argv[0], err);
  }
  return pid;
}

std::string ReadAll(int fd) {
  std::string text;
  lseek(fd, 0, SEEK_SET);
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  return text;
}

}  // namespace

ExitStatus ExitStatus::FromWaitStatus(int status) {
  if (WIFEXITED(status)) return Exited(WEXITSTATUS(status));
  return Killed(WTERMSIG(status));
}

std::string ExitStatus::ToString() const {
  if (exited) return "exit " + std::to_string(code);
  const char* name = strsignal(signal);
  return "signal " + std::to_string(signal) + " (" + (name ? name : "?") + ")";
}

ChildProcess::ChildProcess(const SpawnOptions& options) : pid_(Spawn(options, -1, -1)) {}

ChildProcess::~ChildProcess() { KillTree(); }

std::optional<ExitStatus> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  auto poll = [this] {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) status_ = ExitStatus::FromWaitStatus(status);
    return status_.has_value();
  };
  if (timeout.count() == 0) {
    poll();
  } else {
    WaitUntil(poll, timeout, std::chrono::milliseconds(5));
  }
  return status_;
}

void ChildProcess::Signal(int sig) {
  if (status_) return;
  kill(pid_, sig);
}

void ChildProcess::KillTree() {
  if (pid_ <= 0 || TryWait()) return;
  std::vector<pid_t> killed = KillProcessTrees({pid_});
  Wait(std::chrono::seconds(10));
  ReapChildren(killed);
}

std::vector<pid_t> KillProcessTrees(std::vector<pid_t> roots) {
  // Stop first, then collect again: a stopped process cannot fork, so after a
  // round that finds nothing new the set is complete.
  std::set<pid_t> all;
  for (int round = 0; round < 20; ++round) {
    size_t before = all.size();
    for (pid_t root : roots) {
      if (!IsAlive(root)) continue;
      all.insert(root);
      for (pid_t pid : DescendantsOf(root)) all.insert(pid);
    }
    for (pid_t pid : all) kill(pid, SIGSTOP);
    if (all.size() == before && round > 0) break;
    roots.assign(all.begin(), all.end());
  }
  for (pid_t pid : all) kill(pid, SIGKILL);
  return {all.begin(), all.end()};
}

void ReapChildren(const std::vector<pid_t>& pids) {
  std::set<pid_t> pending(pids.begin(), pids.end());
  WaitUntil(
      [&] {
        for (auto it = pending.begin(); it != pending.end();) {
          int status;
          pid_t r = waitpid(*it, &status, WNOHANG);
          // Reaped, or not our child (ECHILD): either way nothing to wait for.
          // A process still alive after SIGKILL (r == 0 and alive) waits.
          if (r == *it || (r < 0 && !IsAlive(*it))) {
            it = pending.erase(it);
          } else if (r == 0 && !IsAlive(*it) && !IsZombie(*it)) {
            it = pending.erase(it);
          } else {
            ++it;
          }
        }
        return pending.empty();
      },
      std::chrono::seconds(2), std::chrono::milliseconds(10));
}

RunResult Run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::vector<std::string>& env) {
  std::vector<std::string> environment = CurrentEnvironment();
  for (const std::string& assignment : env) {
    std::string key = assignment.substr(0, assignment.find('=') + 1);
    std::erase_if(environment, [&](const std::string& e) { return e.starts_with(key); });
    environment.push_back(assignment);
  }
  int out = memfd_create("run-stdout", MFD_CLOEXEC);
  int err = memfd_create("run-stderr", MFD_CLOEXEC);
  if (out < 0 || err < 0) throw Error("memfd_create", errno);
  SpawnOptions options{argv, environment, "", ""};
  RunResult result;
  pid_t pid;
  try {
    pid = Spawn(options, out, err);
  } catch (...) {
    close(out);
    close(err);
    throw;
  }
  int status = 0;
  bool done = WaitUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout,
                        std::chrono::milliseconds(5));
  if (!done) {
    result.timed_out = true;
    KillProcessTrees({pid});
    waitpid(pid, &status, 0);
  }
  result.status = ExitStatus::FromWaitStatus(status);
  result.out = ReadAll(out);
  result.err = ReadAll(err);
  close(out);
  close(err);
  return result;
}

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

void BecomeSubreaper() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) throw Error("PR_SET_CHILD_SUBREAPER", errno);
}

}  // namespace zlayer::testing
