#include "agent/registry/http.h"

#include <fmt/format.h>

namespace zlayer::registry {

std::string Lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

Result<std::string> ReadBody(HttpResponse& response, int64_t max_size) {
  std::string body;
  char buffer[64 * 1024];
  while (true) {
    Result<size_t> n = response.Read(buffer, sizeof buffer);
    if (!n.ok()) return n.status();
    if (*n == 0) return body;
    body.append(buffer, *n);
    if (static_cast<int64_t>(body.size()) > max_size) {
      return Status(StatusCode::kResourceExhausted,
                    fmt::format("response larger than {} bytes", max_size));
    }
  }
}

}  // namespace zlayer::registry
