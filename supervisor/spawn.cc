#include "supervisor/spawn.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

#include <cerrno>
#include <fmt/format.h>

namespace zlayer::init {
namespace {

// Turns the errno of a failed exec into the Status callers map to 127/126.
Status SpawnError(const std::string& what, int err) {
  if (err == ENOENT) return NotFoundError(what + ": program not found");
  if (err == EACCES || err == ENOEXEC || err == EPERM) {
    return PermissionDeniedError(what + ": not executable (" + strerror(err) + ")");
  }
  return ErrnoError("start " + what, err);
}

}  // namespace

Result<pid_t> Spawn(const SpawnRequest& request) {
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> argv;
  for (const std::string& a : request.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  env_strings.reserve(request.env.size());
  for (const auto& [k, v] : request.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  // The child reports a failed exec through this pipe (closed on success).
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return ErrnoError("pipe for " + request.program);

  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    return ErrnoError("fork for " + request.program, err);
  }
  if (pid == 0) {
    // Default dispositions for every signal, through the raw system call:
    // glibc's sigaction (and posix_spawn's SETSIGDEF) refuse its internal
    // signals 32 and 33, which would then stay ignored in the child.
    struct KernelSigaction {
      void (*handler)(int);
      unsigned long flags;
      void (*restorer)(void);
      uint64_t mask;
    } dfl{SIG_DFL, 0, nullptr, 0};
    for (int sig = 1; sig <= 64; ++sig) {
      if (sig == SIGKILL || sig == SIGSTOP) continue;
      ::syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(uint64_t));
    }
    if (request.new_session) ::setsid();
    int err = 0;
    if (request.null_stdin) {
      int fd = ::open("/dev/null", O_RDONLY);
      if (fd < 0 || ::dup2(fd, 0) < 0) err = errno;
      if (fd > 0) ::close(fd);
    }
    if (err == 0 && request.stdout_fd >= 0 && ::dup2(request.stdout_fd, 1) < 0) err = errno;
    if (err == 0 && request.stderr_fd >= 0 && ::dup2(request.stderr_fd, 2) < 0) err = errno;
    if (err == 0) {
      ::sigprocmask(SIG_SETMASK, &request.signal_mask, nullptr);
      ::execve(request.program.c_str(), argv.data(), envp.data());
      err = errno;
    }
    (void)!::write(report[1], &err, sizeof(err));
    ::_exit(127);
  }
  ::close(report[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof(child_errno))) {
    // The child exited with 127 after reporting; reap it here, since no one
    // else will ever hear of this pid.
    int status = 0;
    ::waitpid(pid, &status, 0);
    return SpawnError(request.program, child_errno);
  }
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
