// Drains one FIFO (a container's stdout or stderr) into a LogSink, on the
// agent's io_context, for as long as the owner keeps it open.
//
// Open mode: O_RDWR | O_NONBLOCK | O_CLOEXEC. The open never blocks, even
// before the shim has opened its write end, and since the drain holds a write
// end itself the pipe never reports end of file or POLLHUP while the shim's
// writer comes and goes: there is no spurious EOF. Consequently the stream
// never ends by itself; the owner calls Close() when the task is deleted.
// (Linux documents O_RDWR on a FIFO, fifo(7); POSIX leaves it undefined.)
//
// Adoption: opening the same path again (a new agent after a kill -9, or a
// new drain after Close) attaches to the same pipe, and the backlog the kernel
// buffered meanwhile arrives first. Only one drain per FIFO at a time: two
// readers split the data unpredictably.
//
// Reading: the drain waits for readability (async_wait) and then reads with
// non-blocking read(2) until the pipe is empty, so bytes only ever leave the
// kernel inside its own handler. That is what lets Close() take what remains
// in the pipe, in order, with nothing held in a completed-but-not-yet-run
// handler. At most kMaxReadsPerTurn reads per turn of the loop; a busy pipe
// then yields to other handlers and continues.
//
// Batching: each read(2) (up to kReadChunk bytes) is framed at once and its
// records go to the sink as one batch, stamped with one time taken after the
// read: a record's time is when the read that completed it returned (Docker
// stamps per read too), not when the container wrote it.
//
// Durability: a complete line is appended to the sink in the same handler
// that took it out of the pipe, so a kill -9 of the agent loses no complete
// line: what was not read yet stays in the kernel's pipe buffer for the next
// agent. Only an unterminated line already read is held in memory, for at
// most `partial_flush_after`, after which it is written as a partial record
// (no '\n'); the rest of that line follows as another record.
//
// Thread safety: none. Create, use and Close on the io_context's single
// thread, which must be the only thread running that io_context (a read
// readiness edge consumed by another thread's epoll_wait could be missed).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "agent/logs/log_record.h"
#include "common/log.h"
#include "common/status.h"

namespace zlayer::agent::logs {

// Receives framed records. Implemented by ContainerLog (file + hub), by the
// exec sessions, and by recorders in tests.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Write(const LogRecord& record) = 0;
  // The records framed from one read, in order; the views are valid only
  // during the call. The default copies each into Write; sinks on the hot
  // path (ContainerLog) take the batch whole.
  virtual void WriteBatch(std::span<const RecordView> records);
};

using Clock = std::function<std::chrono::system_clock::time_point()>;

struct FifoDrainOptions {
  // Stamps records; system_clock::now when empty.
  Clock clock;
  size_t max_record_text = kMaxRecordText;
  // How long read text without a newline may wait for the rest of its line
  // before it is written as a partial record. Zero: until Close only.
  std::chrono::milliseconds partial_flush_after{1000};
  // Where read errors are reported; may be null.
  Logger* logger = nullptr;
};

class FifoDrain {
 public:
  // Bytes per read(2). The buffer is one per thread, shared by every drain run
  // there (a drain reads only inside its turn on the io_context's thread, and
  // the framer copies what it keeps), not one per drain: 100 containers would
  // otherwise hold 12.8 MiB of read buffers.
  static constexpr size_t kReadChunk = 64 * 1024;
  // The pipe's capacity is raised to this on Open (F_SETPIPE_SZ, best effort:
  // 1 MiB is Linux's default /proc/sys/fs/pipe-max-size).
  static constexpr size_t kPipeSize = 1024 * 1024;
  static constexpr int kMaxReadsPerTurn = 16;

  // Opens the FIFO at `path`, creating it (mkfifo 0600) if it does not exist,
  // and starts draining on `io` (the first read is posted, not done inline).
  // `sink` is not owned and must outlive the drain. Errors: kFailedPrecondition
  // when `path` exists but is not a FIFO; the errno Status of mkfifo / open
  // naming the path (kNotFound when its directory is missing).
  static Result<std::unique_ptr<FifoDrain>> Open(boost::asio::io_context& io, std::string path,
                                                 Stream stream, LogSink& sink,
                                                 FifoDrainOptions options = {});

  // Closes (see Close); `sink` must still be alive.
  ~FifoDrain();
  FifoDrain(const FifoDrain&) = delete;
  FifoDrain& operator=(const FifoDrain&) = delete;

  // Stops draining: reads what is already in the pipe (non-blocking, at most
  // kMaxReadsPerTurn reads), emits a pending unterminated line as a last
  // record, and closes the descriptor. Writers are unaffected (the shim keeps
  // its own read handle). Idempotent. The sink is never called afterwards.
  void Close();

  bool closed() const;
  const std::string& path() const;
  // Bytes read from the pipe so far.
  uint64_t bytes_read() const;

 private:
  struct State;
  explicit FifoDrain(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace zlayer::agent::logs
