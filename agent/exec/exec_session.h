// An interactive process inside a running container (zlayer exec): containerd
// Exec with FIFOs of its own, output streamed as it arrives, stdin forwarded,
// terminal resizes and signals passed on, the exit code at the end.
//
// Threads:
//   - the caller's loop (ExecContext::loop): Start, WriteStdin, CloseStdin,
//     Resize, Signal, Kill are called there and every callback runs there;
//     the FIFOs are drained there (logs::FifoDrain) and stdin is written
//     there (non-blocking).
//   - the files pool (Start's `files`) makes the FIFOs (mkdir, mkfifo), and
//     removes them when the session fails before its process runs.
//   - the session's own thread, once the loop has opened the FIFOs, runs the
//     blocking containerd sequence GetContainer → Exec → Start → Wait →
//     DeleteProcess, and removes the FIFOs. Tasks.Wait blocks for the life of
//     the process; a session is interactive and rare, so it gets a thread
//     rather than holding a worker of a bounded pool for minutes (which would
//     also cap how many sessions can run at once). Short calls (CloseIO,
//     ResizePty, Kill) go to ExecContext::pool.
//
// FIFOs: `<fifo_dir>/<exec id>-stdin|-stdout|-stderr` (stdin only when asked
// for, stderr not with a tty, where the pty merges it into stdout), removed
// after DeleteProcess. Exit: the process's exit status (128+N when killed by
// signal N) after DeleteProcess, when the shim has copied all output.
//
// A client that goes away calls Kill(): the process gets SIGKILL and the
// session cleans up as usual (on_exit still runs).
#pragma once

#include <sys/types.h>

#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/exec/exec_capture.h"
#include "agent/logs/log_record.h"
#include "common/status.h"

namespace zlayer::agent::exec {

struct ExecOptions {
  std::vector<std::string> args;  // required
  bool tty = false;
  bool stdin = false;              // forward stdin; otherwise it is empty
  std::vector<std::string> env;    // NAME=value added to (or replacing in) the container's
  std::string working_dir;         // empty: the container's
  std::string user;                // empty: the container's; else "uid" or "uid:gid"
  uint32_t width = 0, height = 0;  // initial terminal size (tty), 0 = leave
};

struct ExecCallbacks {
  // The process runs (after Tasks.Start).
  std::function<void(const std::string& container_id, const std::string& exec_id, pid_t pid)>
      on_started;
  // Bytes the process wrote; with a tty everything arrives as kStdout.
  std::function<void(logs::Stream stream, std::string bytes)> on_output;
  // Last call, exactly once: the exit status, or why the process could not
  // run (kInvalidArgument for bad options or an executable runc cannot
  // start, kNotFound / kFailedPrecondition from containerd), wrapped with
  // "exec in <container id>". All output was delivered before.
  std::function<void(Result<int> exit_status)> on_exit;
};

class ExecSession {
 public:
  // Starts the process. Always returns a session; failures arrive as on_exit.
  // `files` (the agent's files pool) must outlive the session, like `context`.
  static std::shared_ptr<ExecSession> Start(const ExecContext& context,
                                            boost::asio::thread_pool& files, std::string fifo_dir,
                                            std::string container_id, ExecOptions options,
                                            ExecCallbacks callbacks);
  virtual ~ExecSession() = default;

  // Queue bytes for the process's stdin (ignored without options.stdin or
  // after CloseStdin).
  virtual void WriteStdin(std::string bytes) = 0;
  // EOF on stdin once the queued bytes are written.
  virtual void CloseStdin() = 0;
  // kFailedPrecondition without a tty.
  virtual Status Resize(uint32_t width, uint32_t height) = 0;
  virtual void Signal(int signal) = 0;
  // SIGKILL (the client went away); also before the process started.
  virtual void Kill() = 0;
};

}  // namespace zlayer::agent::exec
