#include "common/duration.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <fmt/format.h>

namespace zlayer {
namespace {

// Nanoseconds per unit, longest suffix first so "ms" wins over "m".
struct Unit {
  std::string_view suffix;
  double nanos;
};
constexpr Unit kUnits[] = {{"ns", 1},   {"us", 1e3},  {"µs", 1e3},  {"ms", 1e6},
                           {"s", 1e9},  {"m", 60e9},  {"h", 3600e9}};

}  // namespace

Result<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  auto error = [&](std::string_view why) {
    return InvalidArgumentError(
        fmt::format("invalid duration \"{}\": {} (expected e.g. 500ms, 5s, 2m, 1h)", text, why));
  };
  if (text.empty()) return error("empty");
  if (text == "0") return std::chrono::nanoseconds(0);
  double total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t i = 0;
    while (i < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[i])) || rest[i] == '.'))
      ++i;
    if (i == 0) return error("expected a number");
    double number = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + i, number);
    if (ec != std::errc() || end != rest.data() + i) return error("bad number");
    rest.remove_prefix(i);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (rest.substr(0, u.suffix.size()) == u.suffix) {
        // "m" must not swallow the "m" of "ms": kUnits lists "ms" before "m".
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return error("missing or unknown unit");
    rest.remove_prefix(unit->suffix.size());
    total += number * unit->nanos;
  }
  if (!std::isfinite(total) || total > 9.2e18) return error("too large");
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(total)));
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  auto ns = d.count();
  if (ns < 0) return "-" + FormatDuration(-d);
  if (ns == 0) return "0s";
  if (ns < 1'000) return fmt::format("{}ns", ns);
  if (ns < 1'000'000) return fmt::format("{:g}us", ns / 1e3);
  if (ns < 10'000'000) return fmt::format("{:g}ms", std::round(ns / 1e4) / 100);
  if (ns < 1'000'000'000) return fmt::format("{}ms", std::llround(ns / 1e6));
  if (ns < 60'000'000'000) return fmt::format("{:g}s", std::round(ns / 1e7) / 100);
  auto mins = duration_cast<minutes>(d).count();
  auto secs = duration_cast<seconds>(d).count() - mins * 60;
  return fmt::format("{}m{}s", mins, secs);
}

}  // namespace zlayer
