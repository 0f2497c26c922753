#include "agent/logs/log_record.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

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

namespace {
// The inside of the JSON string AppendJsonEscaped makes of `text`.
std::string Escaped(std::string_view text) {
  std::string out;
  AppendJsonEscaped(text, out);
  return out;
}
// `text` written as a record and read back.
std::string RoundTrip(const std::string& text) {
  std::string line = EncodeRecord(LogRecord{Stream::kStdout, At(0), text});
  REQUIRE(line.back() == '\n');
  auto back = DecodeRecord(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE(back);
  return back->text;
}
}  // namespace

TEST_CASE("Every control character is escaped, by its short form where JSON has one") {
  CHECK(Escaped("\b\f\n\r\t") == "\\b\\f\\n\\r\\t");
  CHECK(Escaped(std::string("\0\x1f\x7f", 3)) == "\\u0000\\u001f\x7f");
  for (int c = 0; c < 0x20; ++c) {
    std::string text = "a" + std::string(1, static_cast<char>(c)) + "b";
    CAPTURE(c);
    CHECK(RoundTrip(text) == text);
    CHECK(Escaped(text).find(static_cast<char>(c)) == std::string::npos);
  }
}

TEST_CASE("A byte that needs escaping is found at any position of a long plain run") {
  // The fast path looks at eight bytes at a time: try every offset in and
  // around a word, for each kind of special byte.
  for (std::string special : {"\"", "\\", "\n", "\x01", "\xC3\xA9", "\xFF"}) {
    for (size_t length = 0; length < 20; ++length) {
      for (size_t at = 0; at <= length; ++at) {
        std::string text(length, 'p');
        text.insert(at, special);
        CAPTURE(special, length, at);
        std::string expected =
            special == "\xFF" ? text.substr(0, at) + "\xEF\xBF\xBD" + text.substr(at + 1) : text;
        REQUIRE(RoundTrip(text) == expected);
      }
    }
  }
}

TEST_CASE("Text that needs no escaping is copied unchanged") {
  std::string text;
  for (int c = 0x20; c < 0x7F; ++c) {
    if (c != '"' && c != '\\') text.push_back(static_cast<char>(c));
  }
  CHECK(Escaped(text) == text);
  CHECK(Escaped("") == "");
}

TEST_CASE("Valid UTF-8 of every length is kept; each byte of an invalid sequence becomes U+FFFD") {
  const std::string kFffd = "\xEF\xBF\xBD";
  struct Case {
    std::string in, out;
  };
  for (const Case& c : std::vector<Case>{
           {"\xC3\xA9", "\xC3\xA9"},                             // 2 bytes
           {"\xE2\x82\xAC", "\xE2\x82\xAC"},                     // 3 bytes
           {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},             // 4 bytes
           {"\xC3", kFffd},                                      // cut at the end
           {"\xE2\x82", kFffd + kFffd},                          // cut at the end
           {"\xE2\x82x", kFffd + kFffd + "x"},                   // cut in the middle
           {"\x80", kFffd},                                      // lone continuation
           {"\xC0\xAF", kFffd + kFffd},                          // overlong '/'
           {"\xE0\x80\xAF", kFffd + kFffd + kFffd},              // overlong
           {"\xED\xA0\x80", kFffd + kFffd + kFffd},              // surrogate
           {"\xF4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd},  // above U+10FFFF
           {"\xFE\xFF", kFffd + kFffd},
       }) {
    CAPTURE(c.in);
    CHECK(Escaped(c.in) == c.out);
    CHECK(RoundTrip(c.in) == c.out);
  }
}

TEST_CASE("Random bytes always encode to a line that decodes to the same valid text") {
  std::mt19937 random(42);
  for (int round = 0; round < 2000; ++round) {
    std::string text(random() % 64, '\0');
    for (char& c : text) {
      // Mostly plain text, with specials and high bytes mixed in.
      unsigned r = random() % 10;
      c = static_cast<char>(r < 6 ? 'a' + random() % 26 : random() % 256);
    }
    std::string line = EncodeRecord(LogRecord{Stream::kStdout, At(0), text});
    CAPTURE(text);
    REQUIRE(std::count(line.begin(), line.end(), '\n') == 1);
    auto back = DecodeRecord(std::string_view(line).substr(0, line.size() - 1));
    REQUIRE(back);
    CHECK(Escaped(back->text) == Escaped(text));  // already valid: encodes the same
  }
}

TEST_CASE("Records of one time and stream share one formatted suffix but stay exact") {
  RecordEncoder encoder;
  std::string out;
  encoder.Append({Stream::kStdout, At(1), "a\n"}, out);
  encoder.Append({Stream::kStderr, At(1), "b"}, out);
  encoder.Append({Stream::kStdout, At(2), "c\n"}, out);
  CHECK(out ==
        "{\"log\":\"a\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T18:00:00.000000001Z\"}\n"
        "{\"log\":\"b\",\"stream\":\"stderr\",\"time\":\"2026-11-28T18:00:00.000000001Z\"}\n"
        "{\"log\":\"c\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T18:00:00.000000002Z\"}\n");
}
