#include "agent/logs/fifo_drain.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <thread>

#include "test/support/files.h"
#include "test/support/temp_dir.h"
#include "test/unit/logs/io_support.h"

extern char** environ;

using namespace std::chrono;
using namespace zlayer::agent::logs;
using zlayer::testing::RecordingSink;
using zlayer::testing::RunReady;
using zlayer::testing::RunUntil;
using zlayer::testing::ShimLikeWriter;
using zlayer::testing::TempDir;
using zlayer::testing::WriteFile;
using Texts = std::vector<std::string>;

namespace {

std::unique_ptr<FifoDrain> OpenDrain(boost::asio::io_context& io, const std::string& path,
                                     Stream stream, LogSink& sink, FifoDrainOptions options = {}) {
  auto drain = FifoDrain::Open(io, path, stream, sink, std::move(options));
  REQUIRE(drain.ok());
  return std::move(*drain);
}

// Writes `data` to the FIFO with a fresh blocking O_WRONLY open, then closes.
bool WriteOnce(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  return ok;
}

}  // namespace

TEST_CASE("A missing FIFO is created with mode 0600 and opening it never blocks") {
  TempDir dir;
  boost::asio::io_context io;
  RecordingSink sink;
  auto drain = OpenDrain(io, dir / "stdout", Stream::kStdout, sink);
  struct stat st {};
  REQUIRE(::stat((dir / "stdout").c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  // No writer has come yet: nothing arrives and the drain does not end.
  RunReady(io);
  CHECK(sink.records.empty());
  CHECK_FALSE(drain->closed());
}

TEST_CASE("Lines written from another thread arrive as records on the io_context") {
  TempDir dir;
  boost::asio::io_context io;
  RecordingSink sink;
  auto drain = OpenDrain(io, dir / "stdout", Stream::kStdout, sink);
  std::thread writer([&] { WriteOnce(dir / "stdout", "a\nb\n"); });
  CHECK(RunUntil(io, [&] { return sink.records.size() == 2; }));
  writer.join();
  CHECK(sink.Texts() == Texts{"a\n", "b\n"});
  CHECK(drain->bytes_read() == 4);
}

TEST_CASE("A child's stdout and stderr redirected into two FIFOs arrive with their streams") {
  TempDir dir;
  boost::asio::io_context io;
  RecordingSink sink;
  auto out = OpenDrain(io, dir / "stdout", Stream::kStdout, sink);
  auto err = OpenDrain(io, dir / "stderr", Stream::kStderr, sink);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, (dir / "stdout").c_str(), O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, (dir / "stderr").c_str(), O_WRONLY, 0);
  const char* argv[] = {"sh", "-c", "echo a; echo b >&2", nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, "sh", &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);

  CHECK(RunUntil(io, [&] { return sink.records.size() == 2; }));
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  REQUIRE(sink.records.size() == 2);
  for (const auto& r : sink.records) {
    CHECK(r.text == (r.stream == Stream::kStdout ? "a\n" : "b\n"));
  }
  CHECK(sink.records[0].stream != sink.records[1].stream);
}

TEST_CASE("A writer that comes and goes does not end the drain: there is no spurious EOF") {
  TempDir dir;
  boost::asio::io_context io;
  RecordingSink sink;
  auto drain = OpenDrain(io, dir / "stdout", Stream::kStdout, sink);
  REQUIRE(WriteOnce(dir / "stdout", "first\n"));
  CHECK(RunUntil(io, [&] { return sink.records.size() == 1; }));
  // The writer is gone; a drain that took that for the end would stop here.
  RunReady(io);
  REQUIRE(WriteOnce(dir / "stdout", "second\n"));
  CHECK(RunUntil(io, [&] { return sink.records.size() == 2; }));
  CHECK(sink.Texts() == Texts{"first\n", "second\n"});
  CHECK_FALSE(drain->closed());
}

TEST_CASE("A writer pushing far more than the 64 KiB pipe buffer is drained and never stalls") {
  TempDir dir;
  boost::asio::io_context io;
  RecordingSink sink;
  auto drain = OpenDrain(io, dir / "stdout", Stream::kStdout, sink);
  constexpr int kLines = 20000;  // 20000 x 100 bytes = ~2 MiB
  std::atomic<bool> done{false};
  std::thread writer([&] {
    int fd = ::open((dir / "stdout").c_str(), O_WRONLY | O_CLOEXEC);  // blocking writes
    std::string line(99, 'x');
    line += '\n';
    for (int i = 0; i < kLines; ++i) {
      std::string numbered = std::to_string(i) + line.substr(std::to_string(i).size());
      if (::write(fd, numbered.data(), numbered.size()) != 100) break;
    }
    ::close(fd);
    done = true;
  });
  bool all = RunUntil(io, [&] { return done && sink.records.size() == kLines; });
  if (!all) {
    // Unblock a stalled writer so the test fails instead of hanging.
    drain->Close();
    int fd = ::open((dir / "stdout").c_str(), O_RDONLY | O_NONBLOCK);
    char buf[65536];
    while (!done) (void)::read(fd, buf, sizeof buf);
    ::close(fd);
  }
  writer.join();
  REQUIRE(all);
  for (int i = 0; i < kLines; i += 997) {
    CHECK(sink.records[static_cast<size_t>(i)].text.rfind(std::to_string(i) + "x", 0) == 0);
  }
  CHECK(drain->bytes_read() == uint64_t{kLines} * 100);
}

TEST_CASE("Re-opening the same FIFO path after closing the drain gets what was written meanwhile") {
  TempDir dir;
  boost::asio::io_context io;
  RecordingSink sink;
  auto first = OpenDrain(io, dir / "stdout", Stream::kStdout, sink);
  ShimLikeWriter shim(dir / "stdout");
  REQUIRE(shim.ok());
  REQUIRE(shim.Write("before\n"));
  CHECK(RunUntil(io, [&] { return sink.records.size() == 1; }));
  first->Close();
  first.reset();

  // The agent is away (restarting): the kernel keeps what the container writes.
  std::string backlog;
  for (int i = 0; i < 500; ++i) backlog += "meanwhile " + std::to_string(i) + "\n";
  REQUIRE(backlog.size() < 64 * 1024);
  REQUIRE(shim.Write(backlog));
  REQUIRE(shim.Write("no newline yet"));
  RunReady(io);  // handlers of the closed drain must not deliver anything
  CHECK(sink.records.size() == 1);

  // Partial text is kept until Close here, whatever the machine's speed.
  auto adopted = OpenDrain(io, dir / "stdout", Stream::kStdout, sink,
                           {.partial_flush_after = milliseconds(0)});
  CHECK(RunUntil(io, [&] { return sink.records.size() == 501; }));
  CHECK(sink.records[1].text == "meanwhile 0\n");
  CHECK(sink.records[500].text == "meanwhile 499\n");
  adopted->Close();
  REQUIRE(sink.records.size() == 502);
  CHECK(sink.records[501].text == "no newline yet");
}

TEST_CASE("Close takes what is still in the pipe and flushes the partial last line") {
  TempDir dir;
  boost::asio::io_context io;
  RecordingSink sink;
  auto drain = OpenDrain(io, dir / "stderr", Stream::kStderr, sink);
  REQUIRE(WriteOnce(dir / "stderr", "last words\nunfinished"));
  drain->Close();  // the io_context never ran
  CHECK(sink.Texts() == Texts{"last words\n", "unfinished"});
  CHECK(drain->closed());
  drain->Close();
  CHECK(sink.records.size() == 2);
}

TEST_CASE("After Close the sink is never called, not even by handlers still queued") {
  TempDir dir;
  boost::asio::io_context io;
  RecordingSink sink;
  std::unique_ptr<ShimLikeWriter> shim;
  {
    auto drain = OpenDrain(io, dir / "stdout", Stream::kStdout, sink);
    shim = std::make_unique<ShimLikeWriter>(dir / "stdout");
    drain->Close();
  }  // the first read was posted and is still queued
  REQUIRE(shim->Write("after close\n"));
  RunReady(io);
  CHECK(sink.records.empty());
}

TEST_CASE("Records are stamped by the drain's clock when their last byte arrives") {
  TempDir dir;
  boost::asio::io_context io;
  RecordingSink sink;
  auto t = system_clock::time_point(seconds(1'800'000'000));
  auto drain = OpenDrain(io, dir / "stdout", Stream::kStdout, sink, {.clock = [t] { return t; }});
  REQUIRE(WriteOnce(dir / "stdout", "tick\n"));
  CHECK(RunUntil(io, [&] { return sink.records.size() == 1; }));
  CHECK(sink.records[0].time == t);
}

TEST_CASE("Text without a newline is written as a partial record once it waited long enough") {
  TempDir dir;
  boost::asio::io_context io;
  RecordingSink sink;
  auto drain = OpenDrain(io, dir / "stdout", Stream::kStdout, sink,
                         {.partial_flush_after = milliseconds(20)});
  REQUIRE(WriteOnce(dir / "stdout", "done\nPassword: "));
  CHECK(RunUntil(io, [&] { return sink.records.size() == 2; }));
  REQUIRE(WriteOnce(dir / "stdout", "ok\n"));
  CHECK(RunUntil(io, [&] { return sink.records.size() == 3; }));
  CHECK(sink.Texts() == Texts{"done\n", "Password: ", "ok\n"});
}

TEST_CASE("A path that exists but is not a FIFO is refused") {
  TempDir dir;
  boost::asio::io_context io;
  RecordingSink sink;
  WriteFile(dir / "stdout", "regular file");
  auto drain = FifoDrain::Open(io, dir / "stdout", Stream::kStdout, sink);
  REQUIRE_FALSE(drain.ok());
  CHECK(drain.status().code() == zlayer::StatusCode::kFailedPrecondition);
  CHECK_THAT(drain.status().message(), Catch::Contains(dir / "stdout"));
}

TEST_CASE("A FIFO in a missing directory fails with not found") {
  TempDir dir;
  boost::asio::io_context io;
  RecordingSink sink;
  auto drain = FifoDrain::Open(io, dir / "gone/stdout", Stream::kStdout, sink);
  REQUIRE_FALSE(drain.ok());
  CHECK(drain.status().code() == zlayer::StatusCode::kNotFound);
}
