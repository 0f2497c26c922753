#include "supervisor/pass_through.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "supervisor/spawn.h"
#include "supervisor/supervisor.h"

namespace zlayer::init {

int RunPassThrough(const std::string& program, const std::vector<std::string>& argv,
                   const Environment& env, const sigset_t& child_mask, Logger& log) {
  SpawnRequest request;
  request.program = program;
  request.argv = argv;
  request.env = env;
  request.signal_mask = child_mask;
  request.new_session = false;
  request.null_stdin = false;
  auto pid = Spawn(request);
  if (!pid.ok()) {
    log.Error("{}", pid.status().message());
    return ExitCodeForStartFailure(pid.status());
  }

  sigset_t handled = HandledSignals();
  for (;;) {
    siginfo_t info{};
    int signal = ::sigwaitinfo(&handled, &info);
    if (signal < 0) {
      if (errno == EINTR) continue;
      log.Error("sigwaitinfo: {}", std::strerror(errno));
      return 1;
    }
    if (signal != SIGCHLD) {
      if (::kill(*pid, signal) != 0) log.Debug("forward {}: {}", SignalName(signal), strerror(errno));
      continue;
    }
    for (;;) {
      int status = 0;
      pid_t reaped = ::waitpid(-1, &status, WNOHANG);
      if (reaped <= 0) break;
      if (reaped != *pid) continue;  // an orphan
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    }
  }
}

}  // namespace zlayer::init
