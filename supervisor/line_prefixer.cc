#include "supervisor/line_prefixer.h"

namespace zlayer::init {

LinePrefixer::LinePrefixer(std::string prefix, std::function<void(std::string_view)> sink,
                           size_t max_line)
    : prefix_(std::move(prefix)), sink_(std::move(sink)), max_line_(max_line) {}

void LinePrefixer::Feed(std::string_view data) {
  while (!data.empty()) {
    size_t newline = data.find('\n');
    if (newline == std::string_view::npos) {
      pending_.append(data);
      while (pending_.size() >= max_line_) {
        Emit(std::string_view(pending_).substr(0, max_line_));
        pending_.erase(0, max_line_);
      }
      return;
    }
    pending_.append(data.substr(0, newline));
    Emit(pending_);
    pending_.clear();
    data.remove_prefix(newline + 1);
  }
}

void LinePrefixer::Flush() {
  if (!pending_.empty()) Emit(pending_);
  pending_.clear();
}

void LinePrefixer::Emit(std::string_view line) {
  // Our own programs already start their lines with their name.
  if (line.size() > prefix_.size() + 1 && line.substr(0, prefix_.size()) == prefix_ &&
      line[prefix_.size()] == ':') {
    std::string out(line);
    out.push_back('\n');
    sink_(out);
    return;
  }
  std::string out;
  out.reserve(prefix_.size() + line.size() + 3);
  out.append(prefix_).append(": ").append(line).push_back('\n');
  sink_(out);
}

}  // namespace zlayer::init
