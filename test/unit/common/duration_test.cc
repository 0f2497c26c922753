#include "common/duration.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;

TEST_CASE("Durations written the way users write them are parsed") {
  struct Case {
    const char* text;
    std::chrono::nanoseconds expected;
  };
  const Case cases[] = {
      {"0", 0ns},     {"500ms", 500ms}, {"5s", 5s},       {"2m", 2min},   {"1h", 1h},
      {"1m30s", 90s}, {"1.5s", 1500ms}, {"250us", 250us}, {"10ns", 10ns}, {"9s", 9s},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto parsed = zlayer::ParseDuration(c.text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == c.expected);
  }
}

TEST_CASE("A duration without a unit, with an unknown unit or empty is rejected by name") {
  for (const char* text : {"10", "", "5x", "s", "1.2.3s", "-1s"}) {
    INFO(text);
    auto parsed = zlayer::ParseDuration(text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == zlayer::StatusCode::kInvalidArgument);
    CHECK_THAT(parsed.status().message(), Catch::Contains("invalid duration"));
  }
}

TEST_CASE("Durations are formatted short for log lines") {
  CHECK(zlayer::FormatDuration(0ns) == "0s");
  CHECK(zlayer::FormatDuration(100ms) == "100ms");
  CHECK(zlayer::FormatDuration(1500ms) == "1.5s");
  CHECK(zlayer::FormatDuration(90s) == "1m30s");
}
