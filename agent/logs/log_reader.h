// Reads a container's log back (the Logs RPC without follow, and the backlog
// before following).
//
// Thread safety: free functions over files; safe to call from any thread, also
// while the agent appends and rotates. ReadLogs is blocking file I/O (up to
// max_size x max_files bytes, parsed): never call it on the agent's loop; the
// Logs RPC runs it on its own file-reading thread. CurrentLogEnd is one
// stat(2), made on the loop so that it is exact with respect to appends.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "agent/logs/log_record.h"
#include "common/status.h"

namespace zlayer::agent::logs {

// Where a container's current log file ended at some moment: what a
// follower has seen through the file, the hub brings the rest.
struct LogEnd {
  uint64_t inode = 0;  // 0: there was no log file
  uint64_t size = 0;
  bool operator==(const LogEnd&) const = default;
};

// The inode and size of <dir>/<id>.log now; a LogEnd with inode 0 when it does
// not exist. Errors: the errno Status of stat naming the file.
Result<LogEnd> CurrentLogEnd(const std::string& dir, const std::string& id);

struct ReadOptions {
  size_t tail = 0;  // only the last N matching records; 0 = all
  // Only records stamped at or after this time.
  std::optional<std::chrono::system_clock::time_point> since;
  bool include_stdout = true;
  bool include_stderr = true;
  // Only what was in the files at `until` (taken with CurrentLogEnd): the
  // file that was current then, read up to its size then, and the files
  // older than it. Records appended later are left out, also when the file
  // has been rotated since. No records when `until` has no file or that file
  // is gone by now.
  std::optional<LogEnd> until;
};

struct ReadResult {
  std::vector<LogRecord> records;  // oldest first
  // Lines that were not records (corrupt, or written by something else),
  // among those looked at (with a tail, only the last lines are).
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
