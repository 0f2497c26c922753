// Relays a child's output line by line, each line prefixed with the child's
// name ("containerd: ..."), so the node's log tells who said what.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace zlayer::init {

class LinePrefixer {
 public:
  // A line that already starts with "<prefix>:" is passed on as it is.
  // `sink` receives whole lines, prefix and trailing newline included.
  // A line longer than `max_line` bytes is cut and emitted in pieces.
  LinePrefixer(std::string prefix, std::function<void(std::string_view)> sink,
               size_t max_line = 16 * 1024);

  // Feeds bytes as they arrive; emits every completed line.
  void Feed(std::string_view data);
  // Emits what is buffered as a last line (at end of stream).
  void Flush();

 private:
  void Emit(std::string_view line);
  std::string prefix_;
  std::function<void(std::string_view)> sink_;
  size_t max_line_;
  std::string pending_;
};

}  // namespace zlayer::init
