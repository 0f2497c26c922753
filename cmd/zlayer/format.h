// Compact human forms of sizes, spans and digests, and aligned text tables.
// Pure functions; the CLI's output is built from these.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zlayer::cli {

// Binary units, one decimal below 10: "0B", "512B", "1.5KiB", "37MiB", "1.2GiB".
// Negative sizes are shown as "-".
std::string FormatBytes(int64_t bytes);

// A span as a user reads it in a table: "850ms", "1.6s", "42s", "3m12s", "2h5m", "3d4h".
// Below 10s one decimal is kept; above, the two largest units. Negative spans are 0s.
std::string FormatSpan(std::chrono::nanoseconds span);

// The first 12 hex digits of a digest, without its algorithm: "sha256:0123456789abcdef..."
// -> "0123456789ab". Text without ':' is cut the same way; empty stays empty.
std::string ShortDigest(std::string_view digest);

// "1 service", "2 services".
std::string Plural(uint64_t count, std::string_view singular);

// A table of left-aligned columns separated by three spaces, no trailing spaces, every
// line ending in '\n'. Cells must not contain newlines. Empty cells are shown as "-".
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  // Rows shorter than the header are padded with empty cells.
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t size() const { return rows_.size(); }
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace zlayer::cli
