#include "agent/logs/line_framer.h"

#include <algorithm>

namespace zlayer::agent::logs {
namespace {

// Where to cut `text` (longer than `max`) so that a UTF-8 sequence is not torn
// in two: back up over at most three continuation bytes. Text that is not
// UTF-8 is cut at `max`.
size_t CutPoint(std::string_view text, size_t max) {
  size_t cut = max;
  for (int i = 0; i < 3 && cut > 1; ++i) {
    if ((static_cast<unsigned char>(text[cut]) & 0xC0) != 0x80) return cut;
    --cut;
  }
  return (static_cast<unsigned char>(text[cut]) & 0xC0) != 0x80 ? cut : max;
}

}  // namespace

LineFramer::LineFramer(Stream stream, Emit emit, size_t max_text)
    : stream_(stream), emit_(std::move(emit)), max_text_(std::max<size_t>(max_text, 4)) {}

void LineFramer::Feed(std::string_view data, std::chrono::system_clock::time_point arrival) {
  while (!data.empty()) {
    size_t newline = data.find('\n');
    size_t take = newline == std::string_view::npos ? data.size() : newline;
    pending_.append(data.substr(0, take));
    while (pending_.size() > max_text_) {
      EmitPending(CutPoint(pending_, max_text_), /*newline=*/false, arrival);
    }
    if (newline == std::string_view::npos) return;
    EmitPending(pending_.size(), /*newline=*/true, arrival);
    data.remove_prefix(newline + 1);
  }
}

void LineFramer::Flush(std::chrono::system_clock::time_point now) {
  if (!pending_.empty()) EmitPending(pending_.size(), /*newline=*/false, now);
}

void LineFramer::EmitPending(size_t length, bool newline,
                             std::chrono::system_clock::time_point time) {
  LogRecord record{stream_, time, pending_.substr(0, length)};
  if (newline) record.text.push_back('\n');
  pending_.erase(0, length);
  emit_(std::move(record));
}

}  // namespace zlayer::agent::logs
