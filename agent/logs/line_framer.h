// Cuts a byte stream into log records: one per line, lines longer than
// `max_text` bytes split into several records, the unterminated rest of the
// stream emitted by Flush.
//
// Thread safety: none; one framer per stream, used from one thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "agent/logs/log_record.h"

namespace zlayer::agent::logs {

class LineFramer {
 public:
  using Emit = std::function<void(LogRecord)>;

  // `emit` receives each record as soon as it is complete.
  LineFramer(Stream stream, Emit emit, size_t max_text = kMaxRecordText);

  // Feeds bytes that arrived at `arrival`. Every record completed by them is
  // stamped `arrival`: a record's time is when its last byte arrived, so the
  // records of one log are in time order whatever the lengths of the lines.
  void Feed(std::string_view data, std::chrono::system_clock::time_point arrival);

  // Emits the buffered unterminated text, if any, as a record without '\n'
  // stamped `now`.
  void Flush(std::chrono::system_clock::time_point now);

  // Bytes buffered for a line not yet complete.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  void EmitPending(size_t length, bool newline, std::chrono::system_clock::time_point time);

  Stream stream_;
  Emit emit_;
  size_t max_text_;
  std::string pending_;
};

}  // namespace zlayer::agent::logs
