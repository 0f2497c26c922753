#include "agent/logs/log_file.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "agent/logs/log_reader.h"
#include "test/unit/logs/temp_dir.h"

using namespace std::chrono;
using namespace zlayer::agent::logs;
using zlayer::testing::ReadFile;
using zlayer::testing::TempDir;
using zlayer::testing::WriteFile;

namespace {

// Records of equal encoded size: "r0\n", "r1\n", ... at a fixed time.
LogRecord Rec(int n) {
  return LogRecord{Stream::kStdout, system_clock::time_point(seconds(1'800'000'000)),
                   "r" + std::to_string(n) + "\n"};
}
const uint64_t kRecSize = EncodeRecord(Rec(0)).size();

std::unique_ptr<LogFile> OpenLog(const TempDir& dir, LogFileOptions options = {}) {
  auto file = LogFile::Open(dir.path(), "web-0", options);
  REQUIRE(file.ok());
  return std::move(*file);
}

std::vector<std::string> Texts(const TempDir& dir) {
  auto read = ReadLogs(dir.path(), "web-0");
  REQUIRE(read.ok());
  std::vector<std::string> texts;
  for (const auto& r : read->records) texts.push_back(r.text);
  return texts;
}

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

}  // namespace

TEST_CASE("Records are appended as JSON lines to <dir>/<id>.log") {
  TempDir dir;
  auto log = OpenLog(dir);
  REQUIRE(log->Append(Rec(1)).ok());
  REQUIRE(log->Append(Rec(2)).ok());
  CHECK(log->path() == dir / "web-0.log");
  CHECK(ReadFile(dir / "web-0.log") == EncodeRecord(Rec(1)) + EncodeRecord(Rec(2)));
  CHECK(log->size() == 2 * kRecSize);
}

TEST_CASE("A file that reaches max_size exactly is rotated only by the next record") {
  TempDir dir;
  auto log = OpenLog(dir, {.max_size = 2 * kRecSize, .max_files = 3});
  REQUIRE(log->Append(Rec(1)).ok());
  REQUIRE(log->Append(Rec(2)).ok());
  CHECK(log->size() == 2 * kRecSize);
  CHECK_FALSE(Exists(dir / "web-0.log.1"));

  REQUIRE(log->Append(Rec(3)).ok());
  CHECK(ReadFile(dir / "web-0.log.1") == EncodeRecord(Rec(1)) + EncodeRecord(Rec(2)));
  CHECK(ReadFile(dir / "web-0.log") == EncodeRecord(Rec(3)));
}

TEST_CASE("A record that would cross max_size starts a new file") {
  TempDir dir;
  auto log = OpenLog(dir, {.max_size = 2 * kRecSize - 1, .max_files = 3});
  REQUIRE(log->Append(Rec(1)).ok());
  REQUIRE(log->Append(Rec(2)).ok());
  CHECK(ReadFile(dir / "web-0.log.1") == EncodeRecord(Rec(1)));
  CHECK(ReadFile(dir / "web-0.log") == EncodeRecord(Rec(2)));
}

TEST_CASE("At most max_files files are kept and the oldest is dropped") {
  TempDir dir;
  auto log = OpenLog(dir, {.max_size = kRecSize, .max_files = 3});
  for (int i = 0; i < 5; ++i) REQUIRE(log->Append(Rec(i)).ok());
  CHECK(ReadFile(dir / "web-0.log") == EncodeRecord(Rec(4)));
  CHECK(ReadFile(dir / "web-0.log.1") == EncodeRecord(Rec(3)));
  CHECK(ReadFile(dir / "web-0.log.2") == EncodeRecord(Rec(2)));
  CHECK_FALSE(Exists(dir / "web-0.log.3"));
  CHECK(Texts(dir) == std::vector<std::string>{"r2\n", "r3\n", "r4\n"});
}

TEST_CASE("With max_files 1 a full file starts over") {
  TempDir dir;
  auto log = OpenLog(dir, {.max_size = 2 * kRecSize, .max_files = 1});
  for (int i = 0; i < 3; ++i) REQUIRE(log->Append(Rec(i)).ok());
  CHECK(ReadFile(dir / "web-0.log") == EncodeRecord(Rec(2)));
  CHECK_FALSE(Exists(dir / "web-0.log.1"));
}

TEST_CASE("A record larger than max_size fills a file alone") {
  TempDir dir;
  auto log = OpenLog(dir, {.max_size = kRecSize, .max_files = 3});
  REQUIRE(log->Append(Rec(1)).ok());
  LogRecord big{Stream::kStderr, Rec(0).time, std::string(200, 'b') + "\n"};
  REQUIRE(log->Append(big).ok());
  REQUIRE(log->Append(Rec(2)).ok());
  CHECK(ReadFile(dir / "web-0.log.2") == EncodeRecord(Rec(1)));
  CHECK(ReadFile(dir / "web-0.log.1") == EncodeRecord(big));
  CHECK(ReadFile(dir / "web-0.log") == EncodeRecord(Rec(2)));
}

TEST_CASE("A reopened log keeps the earlier agent's lines and counts them toward rotation") {
  TempDir dir;
  LogFileOptions options{.max_size = 2 * kRecSize, .max_files = 3};
  OpenLog(dir, options)->Append(Rec(1)).ok();
  auto log = OpenLog(dir, options);
  CHECK(log->size() == kRecSize);
  REQUIRE(log->Append(Rec(2)).ok());
  REQUIRE(log->Append(Rec(3)).ok());
  CHECK(ReadFile(dir / "web-0.log.1") == EncodeRecord(Rec(1)) + EncodeRecord(Rec(2)));
  CHECK(Texts(dir) == std::vector<std::string>{"r1\n", "r2\n", "r3\n"});
}

TEST_CASE("A torn last line left by a crash does not swallow the next record") {
  TempDir dir;
  WriteFile(dir / "web-0.log", EncodeRecord(Rec(1)) + "{\"log\":\"half");
  auto log = OpenLog(dir);
  REQUIRE(log->Append(Rec(2)).ok());
  auto read = ReadLogs(dir.path(), "web-0");
  REQUIRE(read.ok());
  REQUIRE(read->records.size() == 2);
  CHECK(read->records[1].text == "r2\n");
  CHECK(read->skipped_lines == 1);
}

TEST_CASE("Rotated files beyond max_files left by a larger setting are removed on open") {
  TempDir dir;
  for (const char* name : {"web-0.log.1", "web-0.log.2", "web-0.log.3", "web-0.log.12",
                           "web-0.log.x", "web-01.log.5"}) {
    WriteFile(dir / name, "");
  }
  OpenLog(dir, {.max_size = 100, .max_files = 2});
  CHECK(Exists(dir / "web-0.log.1"));
  CHECK_FALSE(Exists(dir / "web-0.log.2"));
  CHECK_FALSE(Exists(dir / "web-0.log.3"));
  CHECK_FALSE(Exists(dir / "web-0.log.12"));
  CHECK(Exists(dir / "web-0.log.x"));
  CHECK(Exists(dir / "web-01.log.5"));
}

TEST_CASE("A log file name tells its index only for the container's own files") {
  CHECK(LogFileIndex("web-0.log", "web-0") == 0);
  CHECK(LogFileIndex("web-0.log.2", "web-0") == 2);
  CHECK_FALSE(LogFileIndex("web-0.log.0", "web-0"));
  CHECK_FALSE(LogFileIndex("web-0.log.", "web-0"));
  CHECK_FALSE(LogFileIndex("web-0.log.2x", "web-0"));
  CHECK_FALSE(LogFileIndex("web-0.logx", "web-0"));
  CHECK_FALSE(LogFileIndex("web-01.log", "web-0"));
  CHECK_FALSE(LogFileIndex("web-0.log.1234567", "web-0"));
}

TEST_CASE("Options that cannot work are rejected") {
  TempDir dir;
  CHECK(LogFile::Open(dir.path(), "a", {.max_size = 0}).status().code() ==
        zlayer::StatusCode::kInvalidArgument);
  CHECK(LogFile::Open(dir.path(), "a", {.max_files = 0}).status().code() ==
        zlayer::StatusCode::kInvalidArgument);
}

TEST_CASE("Opening a log in a missing directory fails with not found and the path") {
  TempDir dir;
  auto file = LogFile::Open(dir / "nope", "a");
  REQUIRE_FALSE(file.ok());
  CHECK(file.status().code() == zlayer::StatusCode::kNotFound);
  CHECK_THAT(file.status().message(), Catch::Contains(dir / "nope/a.log"));
}

TEST_CASE("A write that fails because the disk is full is reported with the path") {
  TempDir dir;
  REQUIRE(::symlink("/dev/full", (dir / "web-0.log").c_str()) == 0);
  auto log = OpenLog(dir);
  zlayer::Status s = log->Append(Rec(1));
  CHECK(s.code() == zlayer::StatusCode::kResourceExhausted);
  CHECK_THAT(s.message(), Catch::Contains("write " + dir / "web-0.log"));
}
