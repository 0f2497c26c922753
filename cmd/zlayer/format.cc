#include "cmd/zlayer/format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace zlayer::cli {

std::string FormatBytes(int64_t bytes) {
  if (bytes < 0) return "-";
  if (bytes < 1024) return fmt::format("{}B", bytes);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  // 1023.5KiB would print as "1024KiB": show it as 1.0MiB instead.
  while (value >= 1023.5 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  if (value < 9.95) return fmt::format("{:.1f}{}", value, kUnits[unit]);
  return fmt::format("{:.0f}{}", value, kUnits[unit]);
}

std::string FormatSpan(std::chrono::nanoseconds span) {
  using namespace std::chrono;
  if (span.count() < 0) span = nanoseconds(0);
  if (span < milliseconds(1)) return span.count() == 0 ? "0s" : "<1ms";
  if (span < seconds(1)) return fmt::format("{}ms", duration_cast<milliseconds>(span).count());
  if (span < seconds(10)) {
    double s = static_cast<double>(duration_cast<milliseconds>(span).count()) / 1000;
    s = std::floor(s * 10) / 10;  // never round 9.96s up to "10.0s"
    return fmt::format("{:.1f}s", s);
  }
  int64_t total = duration_cast<seconds>(span).count();
  if (total < 60) return fmt::format("{}s", total);
  if (total < 3600) return fmt::format("{}m{}s", total / 60, total % 60);
  if (total < 86400) return fmt::format("{}h{}m", total / 3600, total % 3600 / 60);
  return fmt::format("{}d{}h", total / 86400, total % 86400 / 3600);
}

std::string ShortDigest(std::string_view digest) {
  if (auto colon = digest.find(':'); colon != std::string_view::npos) {
    digest.remove_prefix(colon + 1);
  }
  return std::string(digest.substr(0, 12));
}

std::string Plural(uint64_t count, std::string_view singular) {
  return fmt::format("{} {}{}", count, singular, count == 1 ? "" : "s");
}

std::string Table::Render() const {
  std::vector<size_t> widths(header_.size(), 0);
  auto cell = [](const std::vector<std::string>& row, size_t i) -> std::string_view {
    if (i >= row.size() || row[i].empty()) return "-";
    return row[i];
  };
  for (size_t i = 0; i < header_.size(); ++i) {
    widths[i] = header_[i].size();
    for (const auto& row : rows_) widths[i] = std::max(widths[i], cell(row, i).size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& row, bool is_header) {
    std::string text;
    for (size_t i = 0; i < header_.size(); ++i) {
      std::string_view c = is_header ? std::string_view(header_[i]) : cell(row, i);
      text += c;
      if (i + 1 < header_.size()) text.append(widths[i] - c.size() + 3, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text;
    out += '\n';
  };
  line(header_, true);
  for (const auto& row : rows_) line(row, false);
  return out;
}

}  // namespace zlayer::cli
