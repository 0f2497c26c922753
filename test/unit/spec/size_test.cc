#include "agent/spec/size.h"

#include <catch2/catch.hpp>

namespace zlayer::spec {
namespace {

TEST_CASE("Sizes take binary Ki Mi Gi Ti, decimal K M G T, or a bare number of bytes") {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  const Case cases[] = {
      {"0", 0},
      {"1", 1},
      {"1048576", 1048576},
      {"1Ki", 1024},
      {"512Mi", 512ull << 20},
      {"1Gi", 1ull << 30},
      {"2Ti", 2ull << 40},
      {"1K", 1000},
      {"100M", 100'000'000},
      {"2G", 2'000'000'000},
      {"3T", 3'000'000'000'000},
      {"1.5Gi", 3ull << 29},
      {"0.5K", 500},
      {"18446744073709551615", UINT64_MAX},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    Result<uint64_t> size = ParseSize(c.text);
    REQUIRE(size.ok());
    CHECK(*size == c.bytes);
  }
}

TEST_CASE("Sizes with unknown units, fractions of a byte or overflow are refused") {
  for (const char* text : {"", "Mi", "512MB", "512mi", "1k", "1.5", "-1Gi", "1 Gi", "1Pi",
                           "18446744073709551616", "17179869184Gi", "1.2.3Mi"}) {
    INFO(text);
    Result<uint64_t> size = ParseSize(text);
    REQUIRE_FALSE(size.ok());
    CHECK(size.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(size.status().message(), Catch::StartsWith("invalid size"));
  }
}

}  // namespace
}  // namespace zlayer::spec
