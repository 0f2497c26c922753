// Reads a container's log back (the Logs RPC without follow, and the backlog
// before following).
//
// Thread safety: free functions over files; safe to call from any thread, also
// while the agent appends and rotates. Blocking file I/O: the agent calls
// these on its blocking pool or accepts a short stall of its loop (the files
// are bounded by max_size x max_files).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "agent/logs/log_record.h"
#include "common/status.h"

namespace zlayer::agent::logs {

struct ReadOptions {
  size_t tail = 0;  // only the last N matching records; 0 = all
  // Only records stamped at or after this time.
  std::optional<std::chrono::system_clock::time_point> since;
  bool include_stdout = true;
  bool include_stderr = true;
};

struct ReadResult {
  std::vector<LogRecord> records;  // oldest first
  // Lines that were not records (corrupt, or written by something else).
  // A torn last line of the current file is not counted: it is being written.
  size_t skipped_lines = 0;
};

// Reads the records of container `id` from <dir>/<id>.log.N ... <dir>/<id>.log,
// oldest first. The set of files is opened as one snapshot (retried if a
// rotation happens while opening), so a rotation during the read neither
// duplicates nor drops records of the snapshot; records appended after the
// snapshot may or may not be included. A container without log files yields
// no records. Errors: the errno Status of open/read naming the file (never
// for a file that vanished while being opened).
Result<ReadResult> ReadLogs(const std::string& dir, const std::string& id,
                            const ReadOptions& options = {});

}  // namespace zlayer::agent::logs
