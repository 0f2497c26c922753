// Starting a program from a test and observing how it ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace zlayer::testing {

// How a process ended: exit(code) or death by a signal.
struct ExitStatus {
  bool exited = false;
  int code = 0;    // when exited
  int signal = 0;  // when killed

  static ExitStatus FromWaitStatus(int status);
  static ExitStatus Exited(int code) { return {true, code, 0}; }
  static ExitStatus Killed(int signal) { return {false, 0, signal}; }
  bool operator==(const ExitStatus&) const = default;
  // "exit 0", "signal 9 (Killed)".
  std::string ToString() const;
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the program: a path, or a name looked up on PATH
  std::vector<std::string> env;   // the whole environment, "KEY=VALUE"
  std::string stdout_path;        // file to append stdout to; "" = /dev/null
  std::string stderr_path;        // file to append stderr to; "" = /dev/null
};

// A started process. It gets stdin from /dev/null, only fds 0-2, an empty
// signal mask, default signal dispositions and its own process group, so what
// the test harness does with signals and fds never leaks into the program
// under test. Destroying a ChildProcess that still runs kills its whole tree.
class ChildProcess {
 public:
  // Throws std::runtime_error when the program cannot be started.
  explicit ChildProcess(const SpawnOptions& options);
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The exit status once the process has ended (it is reaped then);
  // nullopt if it still runs after `timeout`.
  std::optional<ExitStatus> Wait(std::chrono::milliseconds timeout);
  std::optional<ExitStatus> TryWait() { return Wait(std::chrono::milliseconds(0)); }
  bool Running() { return !TryWait().has_value(); }
  // The status, once known.
  const std::optional<ExitStatus>& status() const { return status_; }

  // kill(pid, sig); ESRCH after exit is ignored.
  void Signal(int sig);
  // SIGKILLs the process and every descendant (stopping them first so that
  // none can fork meanwhile), then reaps it. Safe to call more than once.
  void KillTree();

 private:
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

// SIGKILLs `pids` after stopping them and any descendants they fork while
// being stopped. Returns every pid that was signalled.
std::vector<pid_t> KillProcessTrees(std::vector<pid_t> pids);

// Reaps those of `pids` that are zombie children of this process (after the
// test process became a subreaper, leftovers are).
void ReapChildren(const std::vector<pid_t>& pids);

struct RunResult {
  ExitStatus status;
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Runs a command to completion with this process's environment plus `env`
// (each "KEY=VALUE" replaces a variable of the same name) and captures its
// output. A command still running after `timeout` is killed (timed_out).
RunResult Run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::vector<std::string>& env = {});

// The environment of this process as "KEY=VALUE" strings.
std::vector<std::string> CurrentEnvironment();

// This process becomes a child subreaper: orphans of processes it started
// are reparented to it instead of to PID 1, so a test can find and reap them.
void BecomeSubreaper();

}  // namespace zlayer::testing
