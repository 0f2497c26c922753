#include "agent/logs/log_file.h"

#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "agent/logs/log_reader.h"
#include "test/support/files.h"
#include "test/support/temp_dir.h"

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

TEST_CASE("A torn last line left by a crash is cut away and does not swallow the next record") {
  TempDir dir;
  WriteFile(dir / "web-0.log", EncodeRecord(Rec(1)) + "{\"log\":\"half");
  auto log = OpenLog(dir);
  CHECK(log->size() == kRecSize);
  REQUIRE(log->Append(Rec(2)).ok());
  CHECK(ReadFile(dir / "web-0.log") == EncodeRecord(Rec(1)) + EncodeRecord(Rec(2)));
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

namespace {

// A tmpfs of `size` bytes mounted on a fresh directory, unmounted at the end:
// a disk that really fills up. Needs root (the tests run as root).
class SmallDisk {
 public:
  explicit SmallDisk(const std::string& options) {
    REQUIRE(::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, options.c_str()) == 0);
  }
  ~SmallDisk() { ::umount2(dir_.path().c_str(), MNT_DETACH); }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
};

// Every line of `path` is a whole record and the file ends with a newline.
void RequireOnlyWholeRecords(const std::string& path) {
  std::string data = ReadFile(path);
  REQUIRE_FALSE(data.empty());
  CHECK(data.back() == '\n');
  std::string_view rest = data;
  size_t lines = 0;
  while (!rest.empty()) {
    size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    CAPTURE(lines, line.substr(0, 80));
    REQUIRE(DecodeRecord(line));
    ++lines;
    if (newline == std::string_view::npos) break;
    rest.remove_prefix(newline + 1);
  }
}

}  // namespace

TEST_CASE("When the disk fills up the log keeps only whole records") {
  SmallDisk disk("size=64k");
  auto log = OpenLog(disk.dir(), {.max_size = 1 << 20, .max_files = 1});
  // Lines of varying length, so that the write that meets the end of the disk
  // is cut somewhere inside a record.
  int failures = 0;
  for (int i = 0; failures < 50 && i < 100'000; ++i) {
    std::string text = "counter " + std::to_string(i) + " " + std::string(i * 37 % 3000, 'x');
    if (!log->Append(LogRecord{Stream::kStdout, Rec(0).time, text + "\n"}).ok()) ++failures;
  }
  REQUIRE(failures == 50);
  RequireOnlyWholeRecords(log->path());
  auto read = ReadLogs(disk.dir().path(), "web-0");
  REQUIRE(read.ok());
  CHECK(read->skipped_lines == 0);
  CHECK(read->records.size() * kRecSize <= 64 * 1024);
}

TEST_CASE("A torn last line found on a full disk is cut away, not left to swallow a record") {
  SmallDisk disk("size=64k");
  // The torn line ends exactly at a page boundary: not one more byte fits
  // once the rest of the disk is full.
  std::string torn = EncodeRecord(Rec(1)) + "{\"log\":\"counte";
  torn.append(4096 - torn.size(), 'e');
  WriteFile(disk.dir() / "web-0.log", torn);
  {
    // Fills the rest of the disk: the write stops short at ENOSPC, as intended.
    std::ofstream filler(disk.dir() / "filler", std::ios::binary);
    filler << std::string(128 * 1024, 'f');
  }
  auto log = OpenLog(disk.dir());
  CHECK(log->size() == kRecSize);
  RequireOnlyWholeRecords(log->path());
  std::filesystem::remove(disk.dir() / "filler");
  REQUIRE(log->Append(Rec(3)).ok());
  RequireOnlyWholeRecords(log->path());
  CHECK(Texts(disk.dir()) == std::vector<std::string>{"r1\n", "r3\n"});
}
