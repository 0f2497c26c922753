#include "agent/spec/size.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>

namespace zlayer::spec {
namespace {

struct Suffix {
  std::string_view text;
  double factor;
};
constexpr Suffix kSuffixes[] = {
    {"Ki", 1024.0},
    {"Mi", 1024.0 * 1024},
    {"Gi", 1024.0 * 1024 * 1024},
    {"Ti", 1024.0 * 1024 * 1024 * 1024},
    {"K", 1e3},
    {"M", 1e6},
    {"G", 1e9},
    {"T", 1e12},
};

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  auto error = [&](std::string_view why) {
    return InvalidArgumentError(
        fmt::format("invalid size \"{}\": {} (expected e.g. 512Mi, 1Gi, 100M or a number of bytes)",
                    text, why));
  };
  size_t digits = 0;
  while (digits < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
    ++digits;
  }
  if (digits == 0) return error("expected a number");
  std::string_view number_text = text.substr(0, digits);
  std::string_view suffix = text.substr(digits);

  double factor = 1;
  if (!suffix.empty()) {
    const Suffix* match = nullptr;
    for (const Suffix& s : kSuffixes) {
      if (s.text == suffix) match = &s;
    }
    if (match == nullptr) return error("unknown unit");
    factor = match->factor;
  }

  if (suffix.empty() || number_text.find('.') == std::string_view::npos) {
    // Integers stay exact: 18446744073709551615 bytes must not round through a double.
    uint64_t number = 0;
    auto [end, ec] = std::from_chars(number_text.data(), number_text.data() + digits, number);
    if (ec == std::errc::result_out_of_range) return error("too large");
    if (ec != std::errc() || end != number_text.data() + digits) {
      return error(suffix.empty() ? "a number of bytes must be whole" : "bad number");
    }
    auto multiplier = static_cast<uint64_t>(factor);
    if (number != 0 && multiplier > UINT64_MAX / number) return error("too large");
    return number * multiplier;
  }
  double number = 0;
  auto [end, ec] = std::from_chars(number_text.data(), number_text.data() + digits, number);
  if (ec != std::errc() || end != number_text.data() + digits) return error("bad number");
  double bytes = std::floor(number * factor);
  // 2^64 itself does not fit; doubles at this magnitude are exact powers of two.
  if (!std::isfinite(bytes) || bytes >= 18446744073709551616.0) return error("too large");
  return static_cast<uint64_t>(bytes);
}

}  // namespace zlayer::spec
