#include "test/support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

// Spawns with a clean slate: empty mask, default dispositions, own process
// group, fds 0-2 only. `stdout_fd`/`stderr_fd` >= 0 are dup2'ed to 1/2,
// otherwise the paths (or /dev/null) are opened.
pid_t Spawn(const SpawnOptions& options, int stdout_fd, int stderr_fd) {
  if (options.argv.empty()) throw std::runtime_error("spawn: empty argv");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  auto redirect = [&](int target, int fd, const std::string& path) {
    if (fd >= 0) {
      posix_spawn_file_actions_adddup2(&actions, fd, target);
    } else {
      const char* file = path.empty() ? "/dev/null" : path.c_str();
      posix_spawn_file_actions_addopen(&actions, target, file, O_WRONLY | O_CREAT | O_APPEND, 0644);
    }
  };
  redirect(1, stdout_fd, options.stdout_path);
  redirect(2, stderr_fd, options.stderr_path);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> argv = CStrings(options.argv);
  std::vector<char*> envp = CStrings(options.env);
  pid_t pid = -1;
  int err = options.argv[0].find('/') == std::string::npos
                ? posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data())
                : posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) throw Error("spawn " + options.argv[0], err);
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
