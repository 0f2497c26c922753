// Starting child programs cleanly (fork + execve): the supervisor's blocked
// signal mask is replaced by the original one, every signal disposition is
// reset to its default (SIGPIPE and glibc's internal 32/33 included, which
// posix_spawn cannot reset), the child gets its own session when asked, and
// only the descriptors named here are inherited (everything the supervisor
// opens is close-on-exec).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace zlayer::init {

struct SpawnRequest {
  std::string program;             // a resolved path (see ResolveProgram)
  std::vector<std::string> argv;   // argv[0] included
  Environment env;                 // the child's whole environment
  sigset_t signal_mask{};          // the child's blocked mask (normally empty)
  bool new_session = true;         // setsid(): own session and process group
  bool null_stdin = true;          // stdin from /dev/null instead of inherited
  int stdout_fd = -1;              // dup'ed to 1; -1 inherits ours
  int stderr_fd = -1;              // dup'ed to 2; -1 inherits ours
};

// Starts the program; returns its pid. Errors: kNotFound when the program does
// not exist, kPermissionDenied when it cannot be executed, others from errno.
Result<pid_t> Spawn(const SpawnRequest& request);

// Finds `name` the way a shell would: a name containing '/' is taken as a
// path, anything else is looked up in `path_env` (PATH). Errors:
// kNotFound "<name>: program not found", kPermissionDenied "<path>: not executable".
Result<std::string> ResolveProgram(const std::string& name, const std::string& path_env);

// The exit code a shell uses for a program that failed to start: 127 for a
// missing program, 126 for one that cannot be executed.
int ExitCodeForStartFailure(const Status& status);

// The directory holding the running executable (/proc/self/exe), so that
// zlayer-init finds zlayer-agent and zlayer beside itself.
std::string SelfDirectory();

// "SIGTERM", "SIGRTMIN+3", ...
std::string SignalName(int signal);

// "exited with code 3" or "was killed by SIGKILL" for a waitpid status.
std::string DescribeWaitStatus(int wait_status);

}  // namespace zlayer::init
