#include "common/rfc3339.h"

#include <fmt/format.h>

namespace zlayer {
namespace {

using std::chrono::days;
using std::chrono::nanoseconds;
using std::chrono::system_clock;

// Reads exactly `n` decimal digits at `pos`; -1 if they are not all digits.
int Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace

std::string FormatRfc3339Nano(system_clock::time_point t) {
  using namespace std::chrono;
  auto ns = time_point_cast<nanoseconds>(t);
  auto day = floor<days>(ns);
  year_month_day ymd{day};
  hh_mm_ss<nanoseconds> hms{ns - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                     hms.subseconds().count());
}

Result<system_clock::time_point> ParseRfc3339(std::string_view text) {
  auto bad = [&] { return InvalidArgumentError(fmt::format("invalid RFC 3339 time {:?}", text)); };
  int y = Digits(text, 0, 4), mo = Digits(text, 5, 2), d = Digits(text, 8, 2);
  int h = Digits(text, 11, 2), mi = Digits(text, 14, 2), s = Digits(text, 17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0) return bad();
  if (text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
      text[16] != ':') {
    return bad();
  }
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month(mo),
                                  std::chrono::day(d)};
  // Second 60 (a leap second) is folded into the next minute, as Go does.
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return bad();

  size_t pos = 19;
  int64_t frac = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - start < 9) frac = frac * 10 + (text[pos] - '0');
      ++pos;
    }
    size_t n = pos - start;
    if (n == 0 || n > 9) return bad();
    for (size_t i = n; i < 9; ++i) frac *= 10;
  }
  int offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh = Digits(text, pos + 1, 2), om = Digits(text, pos + 4, 2);
    if (oh < 0 || om < 0 || text[pos + 3] != ':' || oh > 23 || om > 59) return bad();
    offset_minutes = (text[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != text.size()) return bad();

  // system_clock counts nanoseconds in 64 bits: years 1678..2261 only.
  std::chrono::sys_seconds secs = std::chrono::sys_days{ymd} + std::chrono::hours(h) +
                                  std::chrono::minutes(mi) + std::chrono::seconds(s) -
                                  std::chrono::minutes(offset_minutes);
  auto limit = std::chrono::duration_cast<std::chrono::seconds>(system_clock::duration::max());
  if (secs.time_since_epoch() >= limit || secs.time_since_epoch() <= -limit) return bad();
  return system_clock::time_point(
             std::chrono::duration_cast<system_clock::duration>(secs.time_since_epoch())) +
         std::chrono::duration_cast<system_clock::duration>(nanoseconds(frac));
}

}  // namespace zlayer
