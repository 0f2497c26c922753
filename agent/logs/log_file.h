// A container's log on disk: append-only JSON lines (see log_record.h) in
// <dir>/<id>.log, rotated by size into <id>.log.1 (the previous file) up to
// <id>.log.<max_files-1> (the oldest kept).
//
// Durability: each record is one plain write(2) with O_APPEND, no fsync. A
// kill -9 of the agent loses nothing that was appended (it sits in the page
// cache); a power loss may lose the last seconds.
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
#include <string>
#include <string_view>

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
  // file ends in a torn line (a crash between a short write and its cut), it
  // is cut back to its last '\n': that needs no space on a full disk, where
  // adding a '\n' failed and left the torn line to swallow the next record.
  // Errors: kInvalidArgument for bad options, the errno Status of open/fstat
  // (kNotFound when `dir` is missing), naming the path.
  static Result<std::unique_ptr<LogFile>> Open(std::string dir, std::string id,
                                               LogFileOptions options = {});

  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // Appends one record, rotating first when it would not fit. On a failed
  // write (disk full, ...) the file is cut back to its previous size so no
  // torn line stays behind, and the error is returned; the next Append tries
  // again. A failed rotation is returned too; the record is then not written.
  Status Append(const LogRecord& record);

  // Path of the current file, <dir>/<id>.log.
  const std::string& path() const { return path_; }
  // Bytes in the current file.
  uint64_t size() const { return size_; }
  const LogFileOptions& options() const { return options_; }

 private:
  LogFile(std::string dir, std::string id, LogFileOptions options, int fd, uint64_t size);
  Status Rotate();

  std::string dir_;
  std::string id_;
  std::string path_;
  LogFileOptions options_;
  int fd_;
  uint64_t size_;
};

}  // namespace zlayer::agent::logs
