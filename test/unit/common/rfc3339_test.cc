#include "common/rfc3339.h"

#include <catch2/catch.hpp>

using namespace std::chrono;
using zlayer::FormatRfc3339Nano;
using zlayer::ParseRfc3339;

TEST_CASE("A time is written in UTC with nine fractional digits, as Docker's json-file does") {
  auto t = sys_days{2026y / November / 28} + hours(18) + nanoseconds(123456789);
  CHECK(FormatRfc3339Nano(system_clock::time_point(t)) == "2026-11-28T18:00:00.123456789Z");
  CHECK(FormatRfc3339Nano(system_clock::time_point{}) == "1970-01-01T00:00:00.000000000Z");
}

TEST_CASE("A written time parses back to the same instant") {
  auto t = system_clock::time_point(sys_days{2024y / February / 29} + hours(23) + minutes(59) +
                                    seconds(58) + nanoseconds(7));
  auto parsed = ParseRfc3339(FormatRfc3339Nano(t));
  REQUIRE(parsed.ok());
  CHECK(*parsed == t);
}

TEST_CASE("Short fractions and numeric offsets are understood") {
  auto expected = system_clock::time_point(sys_days{2026y / January / 2} + hours(3) + minutes(4) +
                                           seconds(5) + milliseconds(500));
  CHECK(*ParseRfc3339("2026-01-02T03:04:05.5Z") == expected);
  CHECK(*ParseRfc3339("2026-01-02T05:04:05.5+02:00") == expected);
  CHECK(*ParseRfc3339("2026-01-02T02:34:05.500-00:30") == expected);
  CHECK(*ParseRfc3339("2026-01-02T03:04:05.5z") == expected);
}

TEST_CASE("Text that is not an RFC 3339 time is rejected with the text in the message") {
  for (const char* text :
       {"", "2026-01-02", "2026-01-02T03:04:05", "2026-13-02T03:04:05Z", "2026-02-30T03:04:05Z",
        "2026-01-02T03:04:05.Z", "2026-01-02T03:04:05.1234567890Z", "2026-01-02T03:04:05Zjunk",
        "2026-01-02 03:04:05Z", "2026-01-02T03:04:05+0200", "9999-01-02T03:04:05Z"}) {
    CAPTURE(text);
    auto r = ParseRfc3339(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == zlayer::StatusCode::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains("invalid RFC 3339 time"));
  }
}
