#include "cmd/zlayer/format.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using zlayer::cli::FormatBytes;
using zlayer::cli::FormatSpan;
using zlayer::cli::ShortDigest;
using zlayer::cli::Table;

TEST_CASE("Sizes are shown in binary units, one decimal below 10") {
  struct Case {
    int64_t bytes;
    std::string text;
  };
  for (const Case& c : std::vector<Case>{{0, "0B"},
                                         {512, "512B"},
                                         {1023, "1023B"},
                                         {1024, "1.0KiB"},
                                         {1536, "1.5KiB"},
                                         {10 * 1024, "10KiB"},
                                         {1023 * 1024, "1023KiB"},
                                         {1024 * 1024 - 1, "1.0MiB"},
                                         {37 * 1024 * 1024 + 300 * 1024, "37MiB"},
                                         {int64_t{13} * 1024 * 1024 * 1024 / 10, "1.3GiB"},
                                         {-1, "-"}}) {
    INFO(c.bytes);
    CHECK(FormatBytes(c.bytes) == c.text);
  }
}

TEST_CASE("Spans are compact: ms, one decimal under 10s, then the two largest units") {
  struct Case {
    std::chrono::nanoseconds span;
    std::string text;
  };
  for (const Case& c : std::vector<Case>{{0ns, "0s"},
                                         {500us, "<1ms"},
                                         {850ms, "850ms"},
                                         {1600ms, "1.6s"},
                                         {9990ms, "9.9s"},
                                         {42s, "42s"},
                                         {3min + 12s, "3m12s"},
                                         {2h + 5min + 7s, "2h5m"},
                                         {76h, "3d4h"},
                                         {-5s, "0s"}}) {
    INFO(c.text);
    CHECK(FormatSpan(c.span) == c.text);
  }
}

TEST_CASE("Short digests drop the algorithm and keep 12 hex digits") {
  CHECK(ShortDigest("sha256:0123456789abcdef0123") == "0123456789ab");
  CHECK(ShortDigest("0123456789abcdef") == "0123456789ab");
  CHECK(ShortDigest("") == "");
  CHECK(zlayer::cli::Plural(1, "service") == "1 service");
  CHECK(zlayer::cli::Plural(2, "service") == "2 services");
}

TEST_CASE("A table aligns columns, shows empty cells as - and has no trailing spaces") {
  Table table({"NAME", "SIZE", "NOTE"});
  table.AddRow({"a", "1.0KiB", ""});
  table.AddRow({"longer-name", "2B"});
  CHECK(table.Render() ==
        "NAME          SIZE     NOTE\n"
        "a             1.0KiB   -\n"
        "longer-name   2B       -\n");
}
