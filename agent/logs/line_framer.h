// Cuts a byte stream into log records: one per line, lines longer than
// `max_text` bytes split into several records, the unterminated rest of the
// stream emitted by Flush.
//
// Cost: a record is a view into the bytes fed (or into the one buffered line
// that an earlier Feed left unterminated), so framing copies nothing but that
// pending line and allocates nothing once its buffers have grown. Newlines
// are found with memchr.
//
// Thread safety: none; one framer per stream, used from one thread.
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/logs/log_record.h"

namespace zlayer::agent::logs {

class LineFramer {
 public:
  // Receives the records completed by one Feed or Flush, in order; the views
  // are valid only during the call.
  using Emit = std::function<void(std::span<const RecordView>)>;

  // `emit` receives the records as soon as they are complete.
  LineFramer(Stream stream, Emit emit, size_t max_text = kMaxRecordText);

  // Feeds bytes that arrived at `arrival`. Every record completed by them is
  // stamped `arrival`, in one call of `emit` (none when no record completed):
  // a record's time is when its last byte arrived, so the records of one log
  // are in time order whatever the lengths of the lines. A caller that feeds
  // each read(2) stamps records per read, as Docker does.
  void Feed(std::string_view data, std::chrono::system_clock::time_point arrival);

  // Emits the buffered unterminated text, if any, as a record without '\n'
  // stamped `now`.
  void Flush(std::chrono::system_clock::time_point now);

  // Bytes buffered for a line not yet complete.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  // Adds `line` (its '\n' included when `ended`) as records of at most
  // max_text_ bytes of text, cut so no UTF-8 sequence is torn. Returns the
  // bytes of `line` that stay unemitted (only when !ended: a tail shorter
  // than max_text_ that may still grow).
  size_t Cut(std::string_view line, bool ended, std::chrono::system_clock::time_point time);
  void Deliver();

  Stream stream_;
  Emit emit_;
  size_t max_text_;
  std::string pending_;
  std::vector<RecordView> records_;  // reused between calls
};

}  // namespace zlayer::agent::logs
