#include "supervisor/spawn.h"

#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fmt/format.h>

namespace zlayer::init {
namespace {

// posix_spawn* functions return an error number instead of setting errno.
Status SpawnError(const std::string& what, int err) {
  if (err == ENOENT) return NotFoundError(what + ": program not found");
  if (err == EACCES || err == ENOEXEC || err == EPERM) {
    return PermissionDeniedError(what + ": not executable (" + strerror(err) + ")");
  }
  return ErrnoError("start " + what, err);
}

}  // namespace

Result<pid_t> Spawn(const SpawnRequest& request) {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_init(&actions);

  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (request.new_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attr, flags);
  posix_spawnattr_setsigmask(&attr, &request.signal_mask);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);

  if (request.null_stdin) posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (request.stdout_fd >= 0) posix_spawn_file_actions_adddup2(&actions, request.stdout_fd, 1);
  if (request.stderr_fd >= 0) posix_spawn_file_actions_adddup2(&actions, request.stderr_fd, 2);

  std::vector<char*> argv;
  for (const std::string& a : request.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  env_strings.reserve(request.env.size());
  for (const auto& [k, v] : request.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  int err = posix_spawn(&pid, request.program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return SpawnError(request.program, err);
  return pid;
}

Result<std::string> ResolveProgram(const std::string& name, const std::string& path_env) {
  auto check = [](const std::string& path) -> Status {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return NotFoundError(path + ": program not found");
    if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0) {
      return PermissionDeniedError(path + ": not executable");
    }
    return Status::Ok();
  };
  if (name.empty()) return NotFoundError("empty program name");
  if (name.find('/') != std::string::npos) {
    Status s = check(name);
    if (!s.ok()) return s;
    return name;
  }
  Status first_denied = Status::Ok();
  size_t start = 0;
  while (start <= path_env.size()) {
    size_t colon = path_env.find(':', start);
    if (colon == std::string::npos) colon = path_env.size();
    std::string_view dir = std::string_view(path_env).substr(start, colon - start);
    std::string candidate = fmt::format("{}/{}", dir.empty() ? "." : dir, name);
    Status s = check(candidate);
    if (s.ok()) return candidate;
    if (s.code() == StatusCode::kPermissionDenied && first_denied.ok()) first_denied = s;
    start = colon + 1;
  }
  if (!first_denied.ok()) return first_denied;
  return NotFoundError(name + ": program not found (searched PATH=" + path_env + ")");
}

int ExitCodeForStartFailure(const Status& status) {
  return status.code() == StatusCode::kNotFound ? 127 : 126;
}

std::string SelfDirectory() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

std::string SignalName(int signal) {
  if (signal >= SIGRTMIN && signal <= SIGRTMAX) {
    return signal == SIGRTMIN ? "SIGRTMIN" : fmt::format("SIGRTMIN+{}", signal - SIGRTMIN);
  }
  const char* abbrev = sigabbrev_np(signal);
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", signal);
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return fmt::format("exited with code {}", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    return fmt::format("was killed by {}{}", SignalName(WTERMSIG(wait_status)),
                       WCOREDUMP(wait_status) ? " (core dumped)" : "");
  }
  return fmt::format("changed state (wait status {})", wait_status);
}

}  // namespace zlayer::init
