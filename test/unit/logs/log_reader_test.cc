#include "agent/logs/log_reader.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "agent/logs/log_file.h"
#include "test/support/files.h"
#include "test/support/temp_dir.h"

using namespace std::chrono;
using namespace zlayer::agent::logs;
using zlayer::testing::TempDir;
using zlayer::testing::WriteFile;

namespace {

system_clock::time_point T(int s) { return system_clock::time_point(seconds(1'800'000'000 + s)); }

// Writes records "0\n".."<n-1>\n" stamped T(i), stdout for even i, stderr for
// odd, into a log rotating every `per_file` records (3 files kept).
void WriteNumbered(const TempDir& dir, int n, int per_file) {
  uint64_t size = EncodeRecord({Stream::kStdout, T(0), "0\n"}).size();
  auto log = LogFile::Open(dir.path(), "c1", {.max_size = size * per_file, .max_files = 3});
  REQUIRE(log.ok());
  for (int i = 0; i < n; ++i) {
    Stream stream = i % 2 == 0 ? Stream::kStdout : Stream::kStderr;
    REQUIRE((*log)->Append({stream, T(i), std::to_string(i) + "\n"}).ok());
  }
}

std::vector<std::string> Read(const TempDir& dir, ReadOptions options = {}) {
  auto read = ReadLogs(dir.path(), "c1", options);
  REQUIRE(read.ok());
  std::vector<std::string> texts;
  for (const auto& r : read->records) texts.push_back(r.text.substr(0, r.text.size() - 1));
  return texts;
}

using Texts = std::vector<std::string>;

}  // namespace

TEST_CASE("Records are read oldest first across the rotated files") {
  TempDir dir;
  WriteNumbered(dir, 7, 3);  // [0 1 2] [3 4 5] [6]
  CHECK(Read(dir) == Texts{"0", "1", "2", "3", "4", "5", "6"});
}

TEST_CASE("Records of files dropped by rotation are gone, the rest is in order") {
  TempDir dir;
  WriteNumbered(dir, 11, 3);  // [0 1 2] dropped, then [3 4 5] [6 7 8] [9 10]
  CHECK(Read(dir) == Texts{"3", "4", "5", "6", "7", "8", "9", "10"});
}

TEST_CASE("Tail N gives the last N records, reaching into rotated files when needed") {
  TempDir dir;
  WriteNumbered(dir, 8, 3);  // [0 1 2] [3 4 5] [6 7]
  CHECK(Read(dir, {.tail = 1}) == Texts{"7"});
  CHECK(Read(dir, {.tail = 2}) == Texts{"6", "7"});
  CHECK(Read(dir, {.tail = 4}) == Texts{"4", "5", "6", "7"});
  CHECK(Read(dir, {.tail = 100}).size() == 8);
}

TEST_CASE("Since keeps the records stamped at or after the time, across rotated files") {
  TempDir dir;
  WriteNumbered(dir, 8, 3);
  CHECK(Read(dir, {.since = T(4)}) == Texts{"4", "5", "6", "7"});
  CHECK(Read(dir, {.since = T(0)}).size() == 8);
  CHECK(Read(dir, {.since = T(100)}).empty());
}

TEST_CASE("Tail with since gives the last N of the records since the time") {
  TempDir dir;
  WriteNumbered(dir, 8, 3);
  CHECK(Read(dir, {.tail = 2, .since = T(1)}) == Texts{"6", "7"});
  CHECK(Read(dir, {.tail = 5, .since = T(5)}) == Texts{"5", "6", "7"});
}

TEST_CASE("Streams can be read alone, and tail counts only the chosen stream") {
  TempDir dir;
  WriteNumbered(dir, 8, 3);
  CHECK(Read(dir, {.include_stderr = false}) == Texts{"0", "2", "4", "6"});
  CHECK(Read(dir, {.include_stdout = false}) == Texts{"1", "3", "5", "7"});
  CHECK(Read(dir, {.tail = 3, .include_stdout = false}) == Texts{"3", "5", "7"});
}

TEST_CASE("A half-written last line is ignored, corrupt lines elsewhere are skipped and counted") {
  TempDir dir;
  std::string good = EncodeRecord({Stream::kStdout, T(1), "a\n"});
  WriteFile(dir / "c1.log.1", good + "garbage\n");
  WriteFile(dir / "c1.log", good + "\n" + good + "{\"log\":\"b\",\"str");
  auto read = ReadLogs(dir.path(), "c1");
  REQUIRE(read.ok());
  CHECK(read->records.size() == 3);
  CHECK(read->skipped_lines == 1);
}

TEST_CASE("A container without log files has no records") {
  TempDir dir;
  auto read = ReadLogs(dir.path(), "c1");
  REQUIRE(read.ok());
  CHECK(read->records.empty());
  auto missing_dir = ReadLogs(dir / "nope", "c1");
  REQUIRE(missing_dir.ok());
  CHECK(missing_dir->records.empty());
}

TEST_CASE("Reading while the log rotates never duplicates or skips a record of the snapshot") {
  TempDir dir;
  uint64_t size = EncodeRecord({Stream::kStdout, T(0), "000000\n"}).size();
  auto opened = LogFile::Open(dir.path(), "c1", {.max_size = size * 20, .max_files = 3});
  REQUIRE(opened.ok());
  std::unique_ptr<LogFile> log = std::move(*opened);
  constexpr int kRecords = 20000;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    char text[16];
    for (int i = 0; i < kRecords; ++i) {
      std::snprintf(text, sizeof text, "%06d\n", i);
      (void)log->Append({Stream::kStdout, T(0), text});
    }
    done = true;
  });
  int reads = 0;
  bool contiguous = true;
  while (!done || reads == 0) {
    auto read = ReadLogs(dir.path(), "c1");
    REQUIRE(read.ok());
    ++reads;
    for (size_t i = 1; i < read->records.size(); ++i) {
      if (std::stoi(read->records[i].text) != std::stoi(read->records[i - 1].text) + 1) {
        contiguous = false;
      }
    }
    if (!contiguous) break;
  }
  writer.join();
  CHECK(contiguous);
  INFO("reads: " << reads);
  CHECK(Read(dir).back() == "019999");
}

TEST_CASE("A read until a log end leaves out what was appended after it, across rotations") {
  TempDir dir;
  uint64_t size = EncodeRecord({Stream::kStdout, T(0), "0\n"}).size();
  auto log = LogFile::Open(dir.path(), "c1", {.max_size = size * 3, .max_files = 3});
  REQUIRE(log.ok());
  auto append = [&](int i) {
    REQUIRE((*log)->Append({Stream::kStdout, T(i), std::to_string(i) + "\n"}).ok());
  };
  for (int i = 0; i < 5; ++i) append(i);  // [0 1 2] [3 4
  auto end = CurrentLogEnd(dir.path(), "c1");
  REQUIRE(end.ok());
  CHECK(end->size == 2 * size);
  for (int i = 5; i < 8; ++i) append(i);  // [0 1 2] [3 4 5] [6 7]
  ReadOptions options;
  options.until = *end;
  CHECK(Read(dir, options) == Texts{"0", "1", "2", "3", "4"});
  options.tail = 1;
  CHECK(Read(dir, options) == Texts{"4"});
}

TEST_CASE("A read until a log end that had no file, or whose file is gone, has no records") {
  TempDir dir;
  auto none = CurrentLogEnd(dir.path(), "c1");
  REQUIRE(none.ok());
  CHECK(none->inode == 0);
  WriteNumbered(dir, 4, 3);
  ReadOptions options;
  options.until = *none;
  CHECK(Read(dir, options).empty());
  options.until = LogEnd{.inode = 999'999'999, .size = 10};
  CHECK(Read(dir, options).empty());
}
