// One record of a container's output and its on-disk form, Docker's json-file
// format: one JSON object per line,
//   {"log":"line text\n","stream":"stdout","time":"2026-11-28T18:00:00.123456789Z"}
// A record whose text does not end in '\n' is a partial line: a piece of a
// line longer than kMaxRecordText, or the unterminated end of a stream.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace zlayer::agent::logs {

enum class Stream { kStdout, kStderr };

// "stdout" / "stderr".
std::string_view StreamName(Stream stream);
// The inverse of StreamName; nullopt for any other text.
std::optional<Stream> ParseStream(std::string_view name);

// Bytes of output text carried by one record at most (the newline excluded),
// Docker's limit: longer lines are split into several records.
inline constexpr size_t kMaxRecordText = 16 * 1024;

struct LogRecord {
  Stream stream = Stream::kStdout;
  // When the last byte of this record's text arrived at the agent.
  std::chrono::system_clock::time_point time;
  // Raw bytes as the container wrote them, '\n' included when the line ended.
  // Not necessarily valid UTF-8.
  std::string text;

  bool operator==(const LogRecord&) const = default;
};

// The record's line in the log file, '\n' included. Invalid UTF-8 in `text`
// is replaced by U+FFFD (as Docker's encoder does); this never throws.
std::string EncodeRecord(const LogRecord& record);

// Parses one line (without its '\n') written by EncodeRecord or by Docker.
// nullopt when the line is not such a record (truncated, corrupt).
std::optional<LogRecord> DecodeRecord(std::string_view line);

}  // namespace zlayer::agent::logs
