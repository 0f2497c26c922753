#include "agent/logs/fifo_drain.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>

#include "agent/logs/line_framer.h"

namespace zlayer::agent::logs {

namespace asio = boost::asio;

void LogSink::WriteBatch(std::span<const RecordView> records) {
  for (const RecordView& record : records) Write(record.ToRecord());
}

namespace {

// The read buffer of every drain on this thread (see kReadChunk).
char* ReadBuffer() {
  static thread_local std::unique_ptr<char[]> buffer(new char[FifoDrain::kReadChunk]);
  return buffer.get();
}

}  // namespace

// Shared with the pending handlers, which may run after the FifoDrain is gone
// (they then see `closed` and return).
struct FifoDrain::State {
  State(asio::io_context& io, std::string fifo_path, Stream stream, LogSink& log_sink,
        FifoDrainOptions opts)
      : descriptor(io),
        partial_timer(io),
        path(std::move(fifo_path)),
        sink(&log_sink),
        options(std::move(opts)),
        framer(
            stream, [this](std::span<const RecordView> records) { sink->WriteBatch(records); },
            options.max_record_text) {
    if (!options.clock) options.clock = [] { return std::chrono::system_clock::now(); };
  }

  enum class Drained { kEmpty, kMore, kEnd };

  // Reads until the pipe is empty, an error, or `max_reads` full chunks.
  Drained ReadAvailable(int max_reads) {
    char* buffer = ReadBuffer();
    for (int i = 0; i < max_reads; ++i) {
      ssize_t n = ::read(descriptor.native_handle(), buffer, kReadChunk);
      if (n > 0) {
        bytes_read += static_cast<uint64_t>(n);
        framer.Feed(std::string_view(buffer, static_cast<size_t>(n)), options.clock());
        continue;
      }
      if (n < 0 && errno == EINTR) {
        --i;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Drained::kEmpty;
      // read() == 0 cannot happen while we hold a write end; treat it, like an
      // error, as the end of this stream rather than spin on it.
      if (n < 0 && options.logger) {
        options.logger->Error("log fifo {}: read: {}", path, std::strerror(errno));
      }
      return Drained::kEnd;
    }
    return Drained::kMore;
  }

  // Bounds how long read text without a newline stays in memory only.
  static void ArmPartialFlush(const std::shared_ptr<State>& self) {
    if (self->partial_timer_armed || self->framer.pending_bytes() == 0 ||
        self->options.partial_flush_after.count() <= 0) {
      return;
    }
    self->partial_timer_armed = true;
    self->partial_timer.expires_after(self->options.partial_flush_after);
    self->partial_timer.async_wait([self](const boost::system::error_code& ec) {
      self->partial_timer_armed = false;
      if (self->closed || ec) return;
      self->framer.Flush(self->options.clock());
    });
  }

  static void Turn(const std::shared_ptr<State>& self) {
    if (self->closed) return;
    Drained drained = self->ReadAvailable(kMaxReadsPerTurn);
    ArmPartialFlush(self);
    switch (drained) {
      case Drained::kEmpty:
        // The pipe is empty now, so the next write raises a new readiness
        // edge, which this wait (queued before the loop polls again) gets.
        self->descriptor.async_wait(
            asio::posix::stream_descriptor::wait_read, [self](const boost::system::error_code& ec) {
              if (self->closed) return;
              if (ec) {
                if (self->options.logger) {
                  self->options.logger->Error("log fifo {}: wait: {}", self->path, ec.message());
                }
                return;
              }
              Turn(self);
            });
        return;
      case Drained::kMore:
        // Data may remain without a new edge to come: continue after the
        // other handlers had their turn.
        asio::post(self->descriptor.get_executor(), [self] { Turn(self); });
        return;
      case Drained::kEnd:
        self->ended = true;
        self->framer.Flush(self->options.clock());
        return;
    }
  }

  asio::posix::stream_descriptor descriptor;
  asio::steady_timer partial_timer;
  bool partial_timer_armed = false;
  std::string path;
  LogSink* sink;
  FifoDrainOptions options;
  LineFramer framer;
  bool closed = false;
  bool ended = false;  // the pipe failed; nothing more to read
  uint64_t bytes_read = 0;
};

Result<std::unique_ptr<FifoDrain>> FifoDrain::Open(asio::io_context& io, std::string path,
                                                   Stream stream, LogSink& sink,
                                                   FifoDrainOptions options) {
  constexpr int kFlags = O_RDWR | O_NONBLOCK | O_CLOEXEC;
  int fd = ::open(path.c_str(), kFlags);
  if (fd < 0 && errno == ENOENT) {
    if (::mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST) {
      return ErrnoError(fmt::format("mkfifo {}", path));
    }
    fd = ::open(path.c_str(), kFlags);
  }
  if (fd < 0) return ErrnoError(fmt::format("open {}", path));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
    ::close(fd);
    return FailedPreconditionError(fmt::format("{}: not a FIFO", path));
  }

  // Best effort: a larger pipe lets a chatty container keep writing while the
  // loop is busy elsewhere, and lets one turn take more per wake-up. Pages
  // are only allocated while data waits in it.
  (void)::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(kPipeSize));

  auto state = std::make_shared<State>(io, std::move(path), stream, sink, std::move(options));
  boost::system::error_code ec;
  state->descriptor.assign(fd, ec);
  if (ec) {
    ::close(fd);
    return InternalError(
        fmt::format("{}: register with the event loop: {}", state->path, ec.message()));
  }
  // The backlog of an adopted pipe is read by the first turn.
  asio::post(io, [state] { State::Turn(state); });
  return std::unique_ptr<FifoDrain>(new FifoDrain(std::move(state)));
}

FifoDrain::FifoDrain(std::shared_ptr<State> state) : state_(std::move(state)) {}

FifoDrain::~FifoDrain() { Close(); }

void FifoDrain::Close() {
  if (state_->closed) return;
  if (!state_->ended) state_->ReadAvailable(kMaxReadsPerTurn);
  state_->framer.Flush(state_->options.clock());
  state_->closed = true;
  boost::system::error_code ignored;
  state_->partial_timer.cancel();
  state_->descriptor.cancel(ignored);
  state_->descriptor.close(ignored);
}

bool FifoDrain::closed() const { return state_->closed; }
const std::string& FifoDrain::path() const { return state_->path; }
uint64_t FifoDrain::bytes_read() const { return state_->bytes_read; }

}  // namespace zlayer::agent::logs
