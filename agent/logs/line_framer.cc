#include "agent/logs/line_framer.h"

#include <algorithm>
#include <cstring>

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

size_t LineFramer::Cut(std::string_view line, bool ended,
                       std::chrono::system_clock::time_point time) {
  const size_t newline = ended ? 1 : 0;
  while (line.size() - newline > max_text_) {
    size_t cut = CutPoint(line, max_text_);
    records_.push_back(RecordView{stream_, time, line.substr(0, cut)});
    line.remove_prefix(cut);
  }
  if (!ended) return line.size();
  records_.push_back(RecordView{stream_, time, line});
  return 0;
}

void LineFramer::Feed(std::string_view data, std::chrono::system_clock::time_point arrival) {
  records_.clear();
  // The records may point into pending_, so it changes only after Deliver.
  size_t pending_consumed = 0;
  if (!pending_.empty()) {
    const void* newline = std::memchr(data.data(), '\n', data.size());
    size_t take = newline == nullptr
                      ? data.size()
                      : static_cast<size_t>(static_cast<const char*>(newline) - data.data()) + 1;
    pending_.append(data.data(), take);
    data.remove_prefix(take);
    size_t left = Cut(pending_, newline != nullptr, arrival);
    pending_consumed = pending_.size() - left;
  }
  while (!data.empty()) {
    const void* newline = std::memchr(data.data(), '\n', data.size());
    if (newline == nullptr) break;
    size_t length = static_cast<size_t>(static_cast<const char*>(newline) - data.data()) + 1;
    Cut(data.substr(0, length), /*ended=*/true, arrival);
    data.remove_prefix(length);
  }
  size_t left = Cut(data, /*ended=*/false, arrival);
  Deliver();
  pending_.erase(0, pending_consumed);
  pending_.append(data.substr(data.size() - left));
}

void LineFramer::Flush(std::chrono::system_clock::time_point now) {
  if (pending_.empty()) return;
  records_.clear();
  records_.push_back(RecordView{stream_, now, pending_});
  Deliver();
  pending_.clear();
}

void LineFramer::Deliver() {
  if (!records_.empty()) emit_(records_);
  records_.clear();
}

}  // namespace zlayer::agent::logs
