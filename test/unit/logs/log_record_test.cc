#include "agent/logs/log_record.h"

#include <catch2/catch.hpp>

using namespace std::chrono;
using namespace zlayer::agent::logs;

namespace {
system_clock::time_point At(int64_t ns_since_2026) {
  return system_clock::time_point(sys_days{2026y / November / 28} + hours(18)) +
         nanoseconds(ns_since_2026);
}
}  // namespace

TEST_CASE("A record is written as one line of Docker's json-file format") {
  LogRecord r{Stream::kStdout, At(123456789), "line text\n"};
  CHECK(EncodeRecord(r) ==
        "{\"log\":\"line text\\n\",\"stream\":\"stdout\","
        "\"time\":\"2026-11-28T18:00:00.123456789Z\"}\n");
}

TEST_CASE("Quotes, backslashes and control characters in the output are escaped") {
  LogRecord r{Stream::kStderr, At(0), "say \"hi\"\\\t\x01\n"};
  std::string line = EncodeRecord(r);
  CHECK(line ==
        "{\"log\":\"say \\\"hi\\\"\\\\\\t\\u0001\\n\",\"stream\":\"stderr\","
        "\"time\":\"2026-11-28T18:00:00.000000000Z\"}\n");
  auto back = DecodeRecord(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE(back);
  CHECK(*back == r);
}

TEST_CASE("Invalid UTF-8 is replaced by U+FFFD instead of throwing, valid UTF-8 is kept") {
  LogRecord r{Stream::kStdout, At(0), std::string("ok \xC3\xA9 bad \xFF\xC3 end\n")};
  std::string line;
  REQUIRE_NOTHROW(line = EncodeRecord(r));
  auto back = DecodeRecord(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE(back);
  CHECK(back->text == "ok \xC3\xA9 bad \xEF\xBF\xBD\xEF\xBF\xBD end\n");
}

TEST_CASE("A record written by Docker, with a short fraction, is read") {
  auto r = DecodeRecord(R"({"log":"hello\n","stream":"stderr","time":"2026-11-28T18:00:00.5Z"})");
  REQUIRE(r);
  CHECK(r->stream == Stream::kStderr);
  CHECK(r->text == "hello\n");
  CHECK(r->time == At(500000000));
}

TEST_CASE("Lines that are not records decode to nothing") {
  for (const char* line : {"", "{", "[]", "not json", R"({"log":"x","stream":"stdout"})",
                           R"({"log":"x","stream":"stdin","time":"2026-11-28T18:00:00Z"})",
                           R"({"log":1,"stream":"stdout","time":"2026-11-28T18:00:00Z"})",
                           R"({"log":"x","stream":"stdout","time":"yesterday"})",
                           R"({"log":"x","stream":"stdout","time":"2026-11-28T18:00:00.1)"}) {
    CAPTURE(line);
    CHECK_FALSE(DecodeRecord(line));
  }
}
