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
#include <span>
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

// A record whose text lives elsewhere (the drain's read buffer or its
// pending line): what the framer hands on, so that no line is copied or
// allocated on the way to the file. Valid only during the call it is passed
// to.
struct RecordView {
  Stream stream = Stream::kStdout;
  std::chrono::system_clock::time_point time;
  std::string_view text;  // as LogRecord::text

  LogRecord ToRecord() const { return LogRecord{stream, time, std::string(text)}; }
};

// Appends `text` to `out` as the inside of a JSON string (without quotes):
// '"' and '\\' escaped, \b \f \n \r \t by their short forms, other bytes below
// 0x20 as \u00XX, valid UTF-8 (RFC 3629) copied as is and every byte of an
// invalid sequence replaced by U+FFFD, as Go's encoder (and so Docker) does.
// Runs of bytes that need nothing are found eight at a time and copied whole.
void AppendJsonEscaped(std::string_view text, std::string& out);

// Encodes records into json-file lines, formatting the time stamp once per
// distinct time (a batch read from a pipe carries one time). Not thread-safe:
// one encoder per writer.
class RecordEncoder {
 public:
  // Appends the record's line, '\n' included, to `out`.
  void Append(const RecordView& record, std::string& out);

 private:
  // `","stream":"<s>","time":"<t>"}\n`, with and without a leading escaped
  // newline, per stream, for `time_`.
  void Prepare(std::chrono::system_clock::time_point time);
  std::chrono::system_clock::time_point time_ = std::chrono::system_clock::time_point::min();
  std::string suffix_[2][2];  // [stream][line ended]
};

// The record's line in the log file, '\n' included. Invalid UTF-8 in `text`
// is replaced by U+FFFD (as Docker's encoder does); this never throws.
std::string EncodeRecord(const LogRecord& record);

// Parses one line (without its '\n') written by EncodeRecord or by Docker.
// nullopt when the line is not such a record (truncated, corrupt).
std::optional<LogRecord> DecodeRecord(std::string_view line);

}  // namespace zlayer::agent::logs
