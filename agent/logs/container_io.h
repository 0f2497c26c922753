// One container's output path, wired: its two FIFOs drained into its log file
// and to the followers subscribed in the LogHub.
//
// Use (runtime): before Tasks.Create, ContainerIo::Prepare(...) off the loop,
// then ContainerIo::Open(...) on it, and pass
// paths().stdout_fifo / stderr_fifo; when adopting a running task after an
// agent restart, the same call re-opens the same FIFOs and the kernel's backlog
// flows in. After Tasks.Delete: Close(), destroy, then RemoveContainerIo.
//
// Thread safety: none; the agent's io_context thread only (see fifo_drain.h).
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "agent/logs/fifo_drain.h"
#include "agent/logs/log_file.h"
#include "agent/logs/log_hub.h"
#include "agent/logs/paths.h"
#include "common/log.h"
#include "common/status.h"

namespace zlayer::agent::logs {

// The production LogSink: appends each batch of records to the container's
// LogFile (one write), then publishes it to the hub (followers get lines even
// when the disk is full). A loss is logged once when it starts and once when
// appends succeed again, with the number of records lost in between.
class ContainerLog : public LogSink {
 public:
  // `hub` and `logger` (may be null) are not owned and must outlive this.
  ContainerLog(std::string container_id, std::unique_ptr<LogFile> file, LogHub& hub,
               Logger* logger);

  void Write(const LogRecord& record) override;
  void WriteBatch(std::span<const RecordView> records) override;

  const LogFile& file() const { return *file_; }
  // Records that could not be appended since the last successful append.
  uint64_t dropped() const { return dropped_; }

 private:
  std::string container_id_;
  std::unique_ptr<LogFile> file_;
  LogHub* hub_;
  Logger* logger_;
  uint64_t dropped_ = 0;
};

struct ContainerIoOptions {
  LogFileOptions file;
  FifoDrainOptions drain;  // its logger is also ContainerLog's
};

// The file-system half of opening a container's output: directories, FIFOs
// and the log file, ready for ContainerIo::Open on the loop.
struct PreparedContainerIo {
  ContainerIoPaths paths;
  std::unique_ptr<LogFile> file;
};

class ContainerIo {
 public:
  // The blocking half, for a thread off the loop: creates the directories
  // (PrepareContainerIo) and both FIFOs (mkfifo 0600, existing ones kept: an
  // adopted task's FIFOs still hold its backlog), and opens the log file.
  // Errors: those of PrepareContainerIo, mkfifo and LogFile::Open, wrapped
  // with "container <id>".
  static Result<PreparedContainerIo> Prepare(const ContainerIoPaths& paths,
                                             const LogFileOptions& file);

  // The loop's half: starts draining the FIFOs Prepare made into its log
  // file (opening an existing FIFO never blocks). `hub` must outlive the
  // result. Errors: those of FifoDrain::Open, wrapped with "container <id>";
  // nothing stays open then.
  static Result<std::unique_ptr<ContainerIo>> Open(boost::asio::io_context& io,
                                                   PreparedContainerIo prepared, LogHub& hub,
                                                   ContainerIoOptions options = {});

  // Both halves on the calling thread (tests and tools).
  static Result<std::unique_ptr<ContainerIo>> Open(boost::asio::io_context& io,
                                                   const ContainerIoPaths& paths, LogHub& hub,
                                                   ContainerIoOptions options = {});

  ~ContainerIo();  // Close()
  ContainerIo(const ContainerIo&) = delete;
  ContainerIo& operator=(const ContainerIo&) = delete;

  // Closes both drains (each flushes what is in its pipe and its partial
  // line into the log). Idempotent.
  void Close();

  const ContainerIoPaths& paths() const { return paths_; }
  const ContainerLog& log() const { return *log_; }

 private:
  ContainerIo(ContainerIoPaths paths, std::unique_ptr<ContainerLog> log);

  ContainerIoPaths paths_;
  // Declared before the drains: they write into it, so it is destroyed last.
  std::unique_ptr<ContainerLog> log_;
  std::unique_ptr<FifoDrain> stdout_;
  std::unique_ptr<FifoDrain> stderr_;
};

}  // namespace zlayer::agent::logs
