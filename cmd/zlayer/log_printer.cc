#include "cmd/zlayer/log_printer.h"

namespace zlayer::cli {

void LogPrinter::Print(const v1::LogEntry& entry) {
  int fd = entry.stream() == v1::LOG_STREAM_STDERR ? 2 : 1;
  if (!first_container_) {
    first_container_ = entry.container_id();
  } else if (!prefix_ && entry.container_id() != *first_container_) {
    prefix_ = true;
  }
  std::pair<std::string, int> key(entry.container_id(), fd);
  bool continuing = open_ && *open_ == key;
  if (open_ && !continuing) {
    write_(open_->second, "\n");
    open_.reset();
  }
  std::string text;
  if (prefix_ && !continuing) text = entry.container_id() + " | ";
  text += entry.line();
  if (entry.partial()) {
    open_ = key;
  } else {
    text += '\n';
    open_.reset();
  }
  write_(fd, text);
}

void LogPrinter::Finish() {
  if (open_) write_(open_->second, "\n");
  open_.reset();
}

}  // namespace zlayer::cli
