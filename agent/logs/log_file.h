// A container's log on disk: append-only JSON lines (see log_record.h) in
// <dir>/<id>.log, rotated by size into <id>.log.1 (the previous file) up to
// <id>.log.<max_files-1> (the oldest kept).
//
// Writing: a batch of records is encoded into one buffer and written with one
// write(2) (O_APPEND) per file it lands in, no fsync. A kill -9 of the agent
// loses nothing that was appended (it sits in the page cache); a power loss
// may lose the last seconds.
//
// Whole records or none: when a write fails or is cut short (disk full), the
// file is truncated back to the end of the last record written whole, so a
// reader never meets half a line; the records after it are dropped and
// counted. A file found ending in a torn line (a crash mid-write, an older
// agent) is truncated to its last whole line on Open, which needs no space.
//
// Size: a file never grows beyond max_size, except by a single record larger
// than max_size, which then fills a file alone. When a record would not fit,
// the files shift by one (renames, each atomic; the oldest is replaced and so
// dropped) and the record starts a new <id>.log.
//
// Thread safety: none. A LogFile belongs to one container and is used from
// the agent's io_context thread only. Readers (log_reader.h) may read the
// files concurrently, from any thread or process.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/logs/log_record.h"
#include "common/status.h"

namespace zlayer::agent::logs {

struct LogFileOptions {
  uint64_t max_size = 10 * 1024 * 1024;  // bytes per file, > 0
  int max_files = 3;                     // current file included, >= 1
};

// "<dir>/<id>.log" for index 0, "<dir>/<id>.log.<index>" otherwise.
std::string LogFilePath(const std::string& dir, const std::string& id, int index = 0);

// The index of a log file of `id` from its file name: 0 for "<id>.log", N for
// "<id>.log.N" (N of at most six digits), nullopt for any other name.
std::optional<int> LogFileIndex(std::string_view file_name, std::string_view id);

class LogFile {
 public:
  // Opens <dir>/<id>.log for appending, creating it (0640) if missing and
  // keeping what an earlier agent wrote. `dir` must exist. Rotated files
  // beyond max_files-1 (left by a larger earlier setting) are removed. If the
  // file ends in a torn line, it is cut back to its last '\n'.
  // Errors: kInvalidArgument for bad options, the errno Status of open/fstat
  // (kNotFound when `dir` is missing), naming the path.
  static Result<std::unique_ptr<LogFile>> Open(std::string dir, std::string id,
                                               LogFileOptions options = {});

  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  struct AppendResult {
    size_t dropped = 0;  // records of the batch not written
    Status status;       // why, when dropped > 0
  };

  // Appends `records` in order, rotating whenever the next record would not
  // fit. On a failed or short write (disk full, ...) the whole records that
  // reached the file stay, the file is cut back to their end, and the rest of
  // the batch is dropped; the error names the file. A failed rotation drops
  // the rest of the batch too. The next call tries again.
  AppendResult Append(std::span<const RecordView> records);
  // One record: Append of a batch of one; the Status of the failure.
  Status Append(const LogRecord& record);

  // Path of the current file, <dir>/<id>.log.
  const std::string& path() const { return path_; }
  // Bytes in the current file.
  uint64_t size() const { return size_; }
  const LogFileOptions& options() const { return options_; }

 private:
  LogFile(std::string dir, std::string id, LogFileOptions options, int fd, uint64_t size);
  Status Rotate();
  // Opens the current file again after a rotation failed to.
  Status Reopen();
  // Writes encoded_[ends_[first-1] .. ends_[last-1]) (records first..last-1)
  // to the current file. Returns the number of those records that are now in
  // the file whole and the error of the write, if any.
  std::pair<size_t, Status> WriteRecords(size_t first, size_t last);

  std::string dir_;
  std::string id_;
  std::string path_;
  LogFileOptions options_;
  int fd_;
  uint64_t size_;
  bool torn_ = false;  // the file holds a torn record after size_ that could not be cut yet
  // Reused by every Append, so a batch allocates nothing once they have grown.
  RecordEncoder encoder_;
  std::string encoded_;
  std::vector<size_t> ends_;  // end offset of each record in encoded_
};

}  // namespace zlayer::agent::logs
