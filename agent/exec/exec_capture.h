// Runs a command inside a running container and captures its output, for
// command health checks: containerd Exec with FIFOs of its own, stdout and
// stderr drained on the event loop into one bounded buffer, the blocking
// containerd calls on a worker pool.
//
// Sequence (pool): GetContainer (for the OCI spec) → Exec → Start →
// WaitProcess(timeout) → on timeout Kill(SIGKILL) and wait again →
// DeleteProcess (the shim has then copied all output into the FIFOs) →
// unlink the FIFOs. Then (loop): the drains take what is left in the pipes
// and close, and `done` runs.
//
// FIFOs: `<fifo_dir>/<exec id>-stdout` and `-stderr`, created (and the
// directory, 0700, if missing) before Exec, opened by logs::FifoDrain.
// `fifo_dir` is the container's state directory (logs::IoPathsFor(...).fifo_dir).
//
// Thread safety: call RunCaptured on the loop's thread (the only thread
// running `loop`); `done` runs there.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/containerd/client.h"
#include "common/log.h"
#include "common/status.h"

namespace zlayer::agent::exec {

struct CaptureOptions {
  // After this the process is killed (SIGKILL) and the result says timed_out.
  std::chrono::nanoseconds timeout = std::chrono::seconds(5);
  // Bytes of output kept; the rest is read and dropped.
  size_t max_output = 4096;
};

struct CaptureResult {
  int exit_code = 0;  // 128+N when killed by signal N
  // stdout and stderr interleaved in the order the agent read them.
  std::string output;
  bool truncated = false;
  bool timed_out = false;
};

// The work a command runs on: the agent's loop, its worker pool and the
// containerd services it calls, all of which must outlive every run.
struct ExecContext {
  boost::asio::io_context& loop;
  boost::asio::thread_pool& pool;
  containerd::Containers& containers;  // the container's spec, for the process
  containerd::Tasks& tasks;            // exec, start, wait, signal, resize, delete
  Logger* log = nullptr;               // may be null
};

// Errors (`done` gets a Status): the container has no spec or no running task
// (containerd's kNotFound / kFailedPrecondition), args[0] cannot be executed
// (Start fails with runc's reason; the process is deleted), FIFO creation
// errors. All are wrapped with "exec in <container id>".
void RunCaptured(const ExecContext& context, const std::string& fifo_dir,
                 const std::string& container_id, std::vector<std::string> args,
                 CaptureOptions options, std::function<void(Result<CaptureResult>)> done);

}  // namespace zlayer::agent::exec
