#include "agent/logs/line_framer.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace std::chrono;
using namespace zlayer::agent::logs;

namespace {
struct Recorder {
  std::vector<LogRecord> records;
  int batches = 0;
  LineFramer Make(Stream stream = Stream::kStdout, size_t max = kMaxRecordText) {
    return LineFramer(
        stream,
        [this](std::span<const RecordView> batch) {
          ++batches;
          for (const RecordView& r : batch) records.push_back(r.ToRecord());
        },
        max);
  }
  std::vector<std::string> Texts() const {
    std::vector<std::string> texts;
    for (const auto& r : records) texts.push_back(r.text);
    return texts;
  }
};
system_clock::time_point T(int s) { return system_clock::time_point(seconds(s)); }
}  // namespace

TEST_CASE("Each line of output becomes one record carrying its newline and stream") {
  Recorder rec;
  auto framer = rec.Make(Stream::kStderr);
  framer.Feed("one\ntwo\n", T(1));
  REQUIRE(rec.Texts() == std::vector<std::string>{"one\n", "two\n"});
  CHECK(rec.records[0].stream == Stream::kStderr);
  CHECK(rec.records[1].time == T(1));
}

TEST_CASE("A line that arrives in pieces is one record stamped when its end arrived") {
  Recorder rec;
  auto framer = rec.Make();
  framer.Feed("hel", T(1));
  framer.Feed("lo", T(2));
  CHECK(rec.records.empty());
  CHECK(framer.pending_bytes() == 5);
  framer.Feed("\nnext", T(3));
  REQUIRE(rec.records.size() == 1);
  CHECK(rec.records[0] == LogRecord{Stream::kStdout, T(3), "hello\n"});
}

TEST_CASE("An empty line is a record too") {
  Recorder rec;
  auto framer = rec.Make();
  framer.Feed("\n\n", T(1));
  CHECK(rec.Texts() == std::vector<std::string>{"\n", "\n"});
}

TEST_CASE("The unterminated end of a stream is flushed as a record without newline") {
  Recorder rec;
  auto framer = rec.Make();
  framer.Feed("done\nno newline", T(1));
  framer.Flush(T(9));
  REQUIRE(rec.Texts() == std::vector<std::string>{"done\n", "no newline"});
  CHECK(rec.records[1].time == T(9));
  framer.Flush(T(10));
  CHECK(rec.records.size() == 2);
}

TEST_CASE("A line longer than 16 KiB is split into records of 16 KiB and the rest") {
  Recorder rec;
  auto framer = rec.Make();
  std::string line(2 * kMaxRecordText + 10, 'x');
  framer.Feed(line + "\n", T(1));
  REQUIRE(rec.records.size() == 3);
  CHECK(rec.records[0].text == std::string(kMaxRecordText, 'x'));
  CHECK(rec.records[1].text == std::string(kMaxRecordText, 'x'));
  CHECK(rec.records[2].text == std::string(10, 'x') + "\n");
}

TEST_CASE("A line of exactly 16 KiB stays one record however it is chunked") {
  Recorder rec;
  auto framer = rec.Make();
  std::string line(kMaxRecordText, 'y');
  framer.Feed(std::string_view(line).substr(0, 1000), T(1));
  framer.Feed(std::string_view(line).substr(1000), T(1));
  CHECK(rec.records.empty());
  framer.Feed("\n", T(2));
  REQUIRE(rec.records.size() == 1);
  CHECK(rec.records[0].text == line + "\n");
}

TEST_CASE("A long line is not split inside a UTF-8 character") {
  Recorder rec;
  auto framer = rec.Make(Stream::kStdout, 8);
  // "abcdef" then a 4-byte character that straddles byte 8.
  framer.Feed("abcdef\xF0\x9F\x98\x80gh\n", T(1));
  CHECK(rec.Texts() == std::vector<std::string>{"abcdef", "\xF0\x9F\x98\x80gh\n"});
}

TEST_CASE("The records completed by one read arrive together, in order, in one batch") {
  Recorder rec;
  auto framer = rec.Make();
  framer.Feed("par", T(1));
  CHECK(rec.batches == 0);
  framer.Feed("t\nb\nc\nd", T(2));
  CHECK(rec.batches == 1);
  CHECK(rec.Texts() == std::vector<std::string>{"part\n", "b\n", "c\n"});
  CHECK(framer.pending_bytes() == 1);
}

TEST_CASE("A line spread over many reads is one record, however the reads cut it") {
  const std::string lines = "alpha\nbeta gamma\n\ndelta-epsilon\nz\n";
  for (size_t chunk = 1; chunk <= lines.size(); ++chunk) {
    Recorder rec;
    auto framer = rec.Make();
    for (size_t at = 0; at < lines.size(); at += chunk) {
      framer.Feed(std::string_view(lines).substr(at, chunk), T(1));
    }
    CAPTURE(chunk);
    CHECK(rec.Texts() ==
          std::vector<std::string>{"alpha\n", "beta gamma\n", "\n", "delta-epsilon\n", "z\n"});
    CHECK(framer.pending_bytes() == 0);
  }
}

TEST_CASE("A long line that arrives in small reads is split as it grows, not held whole") {
  Recorder rec;
  auto framer = rec.Make(Stream::kStdout, 10);
  for (int i = 0; i < 25; ++i) framer.Feed("x", T(1));
  CHECK(rec.Texts() == std::vector<std::string>{std::string(10, 'x'), std::string(10, 'x')});
  CHECK(framer.pending_bytes() == 5);
  framer.Feed("\n", T(2));
  CHECK(rec.records.back().text == "xxxxx\n");
}

TEST_CASE("A long line's pieces and the lines after it in the same read keep their order") {
  Recorder rec;
  auto framer = rec.Make(Stream::kStdout, 4);
  framer.Feed("ab", T(1));
  framer.Feed("cdefghij\nk\nlmnopq", T(2));
  CHECK(rec.Texts() == std::vector<std::string>{"abcd", "efgh", "ij\n", "k\n", "lmno"});
  CHECK(framer.pending_bytes() == 2);
  framer.Flush(T(3));
  CHECK(rec.records.back() == LogRecord{Stream::kStdout, T(3), "pq"});
}

TEST_CASE("Bytes that are not UTF-8 and control characters pass through framing untouched") {
  Recorder rec;
  auto framer = rec.Make();
  std::string odd("\xFF\xFE\0\x01\r\x1b[31m", 10);
  framer.Feed(odd + "\n" + odd, T(1));
  framer.Flush(T(2));
  CHECK(rec.Texts() == std::vector<std::string>{odd + "\n", odd});
}
