// Runs short-lived programs (CNI plugins, nft, ...) from the agent's event loop
// without blocking it: the program's stdin is written, its stdout and stderr
// are read, and its exit is awaited, all asynchronously on one io_context; the
// outcome arrives as a value in a callback on that io_context.
//
// Every run has a deadline. When it passes, the program's whole process group
// is killed (SIGKILL), its exit is still awaited (so no zombie is left), and
// the run fails with kDeadlineExceeded.
//
// Exits are seen through a pidfd (pidfd_open(2), Linux >= 5.3) watched on the
// io_context, and each child is reaped with waitpid(<its pid>) only. Boost.Process
// v1's own exit notification (on_exit / async_system) is deliberately not used:
// it installs a process-wide SIGCHLD handler through asio::signal_set *without*
// SA_RESTART, so every blocking call on the agent's pools (read, write, fsync)
// could fail with EINTR whenever any child exits, and it is known to race with
// other waiters (boostorg/process #187, #357, #496). Boost.Process launches the
// child (fork + execve, pipes, environment); nothing here touches SIGCHLD, so
// other child handling in the process is unaffected.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace zlayer {

struct ProcessRequest {
  // Absolute path of the program (no PATH lookup).
  std::string program;
  // argv[1..]; argv[0] is `program`.
  std::vector<std::string> args;
  // The program's whole environment: nothing of the caller's is inherited.
  std::map<std::string, std::string> env;
  // Written to the program's stdin, which is then closed. A program that
  // exits without reading it is not an error.
  std::string stdin_data;
  // From the launch to the exit and the end of both output streams.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  // Per output stream; what is written beyond it is read and dropped.
  size_t max_output = 1 << 20;
};

struct ProcessResult {
  // The exit status when the program exited, 128 + signal when a signal killed it.
  int exit_code = 0;
  // The signal that killed the program, 0 when it exited.
  int term_signal = 0;
  std::string stdout_data;
  std::string stderr_data;
};

// Receives the outcome. Errors (the message always names the program):
//   kNotFound / kPermissionDenied  the program could not be executed
//   kDeadlineExceeded              it ran past request.timeout and was killed
//   other codes                    a pipe or pidfd failed
// A program that ran and exited non-zero is a value, not an error.
using ProcessCallback = std::function<void(Result<ProcessResult>)>;

// Abstract so that callers can be tested with a fake.
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Starts `request`; `done` is called exactly once, never inside Run itself.
  virtual void Run(ProcessRequest request, ProcessCallback done) = 0;
};

// The real runner, on one io_context.
//
// Thread safety: call Run on the io_context's thread; `done` runs there too.
// Runs in flight keep themselves alive; destroying the runner does not cancel
// them (destroy the io_context for that, after which their children are killed
// with SIGKILL and reaped).
//
// Process-wide effects: the constructor sets SIGPIPE to SIG_IGN (when it is
// SIG_DFL) so that writing to a program that closed its stdin fails with EPIPE
// instead of killing the agent. Children get default signal dispositions and an
// empty signal mask, their own process group, and no descriptor but 0, 1 and 2.
class AsioProcessRunner : public ProcessRunner {
 public:
  explicit AsioProcessRunner(boost::asio::io_context& io);
  void Run(ProcessRequest request, ProcessCallback done) override;

 private:
  boost::asio::io_context& io_;
};

}  // namespace zlayer
