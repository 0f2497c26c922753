// How `zlayer logs` prints the entries of a Logs stream.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "zlayer/v1/agent.pb.h"

namespace zlayer::cli {

// Writes log lines as the containers wrote them: stdout lines to `write(1, ...)`, stderr
// lines to `write(2, ...)`, each followed by '\n' unless the entry is partial (its line
// continues in the next entry of the same container and stream).
//
// While every line comes from one container, lines are raw. From the first line of a
// second container on, every line starts with "CONTAINER | " (the switch is one-way, so
// a multi-replica target is prefixed from the moment that is known).
//
// Not thread-safe; one printer per stream.
class LogPrinter {
 public:
  // `write(fd, bytes)`: fd is 1 or 2. Called once per line (prefix, text and newline
  // together) so lines of the two streams do not tear.
  using Writer = std::function<void(int fd, std::string_view bytes)>;
  explicit LogPrinter(Writer write) : write_(std::move(write)) {}

  void Print(const v1::LogEntry& entry);
  void Print(const v1::LogsResponse& response) {
    for (const auto& e : response.entries()) Print(e);
  }
  // Ends a line left open by a partial entry (the stream ended mid-line).
  void Finish();

  bool prefixing() const { return prefix_; }

 private:
  Writer write_;
  std::optional<std::string> first_container_;
  bool prefix_ = false;
  // The container and fd of a line left open by a partial entry.
  std::optional<std::pair<std::string, int>> open_;
};

}  // namespace zlayer::cli
