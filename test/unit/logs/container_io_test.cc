#include "agent/logs/container_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "agent/logs/log_reader.h"
#include "test/support/files.h"
#include "test/support/temp_dir.h"
#include "test/unit/logs/io_support.h"

using namespace zlayer::agent::logs;
using zlayer::testing::ReadFile;
using zlayer::testing::RunUntil;
using zlayer::testing::ShimLikeWriter;
using zlayer::testing::TempDir;
using Texts = std::vector<std::string>;

namespace {

ContainerIoPaths PathsIn(const TempDir& dir, const std::string& id = "app-web-0") {
  zlayer::NodeConfig config;
  config.state_dir = dir / "containers";
  config.data_dir = dir / "data";
  auto paths = IoPathsFor(config, id);
  REQUIRE(paths.ok());
  return *paths;
}

Texts LogTexts(const ContainerIoPaths& paths) {
  auto read = ReadLogs(paths.log_dir, paths.container_id);
  REQUIRE(read.ok());
  Texts texts;
  for (const auto& r : read->records) {
    texts.push_back(std::string(StreamName(r.stream)) + ":" + r.text);
  }
  return texts;
}

}  // namespace

TEST_CASE("A container's stdout and stderr reach its log file and its followers") {
  TempDir dir;
  boost::asio::io_context io;
  LogHub hub;
  auto paths = PathsIn(dir);
  auto opened = ContainerIo::Open(io, paths, hub);
  REQUIRE(opened.ok());
  auto cio = std::move(*opened);
  Texts followed;
  auto sub = hub.Subscribe(paths.container_id, [&](std::span<const RecordView> records) {
    for (const RecordView& r : records) {
      followed.push_back(std::string(StreamName(r.stream)) + ":" + std::string(r.text));
    }
  });

  ShimLikeWriter out(paths.stdout_fifo), err(paths.stderr_fifo);
  REQUIRE(out.Write("hello\n"));
  CHECK(RunUntil(io, [&] { return followed.size() == 1; }));
  REQUIRE(err.Write("oops\n"));
  CHECK(RunUntil(io, [&] { return followed.size() == 2; }));

  CHECK(followed == Texts{"stdout:hello\n", "stderr:oops\n"});
  CHECK(LogTexts(paths) == followed);
}

TEST_CASE("An agent that comes back re-opens the same FIFOs and the log continues") {
  TempDir dir;
  boost::asio::io_context io;
  LogHub hub;
  auto paths = PathsIn(dir);
  auto first = ContainerIo::Open(io, paths, hub);
  REQUIRE(first.ok());
  ShimLikeWriter out(paths.stdout_fifo);
  REQUIRE(out.Write("one\n"));
  CHECK(RunUntil(io, [&] { return (*first)->log().file().size() > 0; }));
  first->reset();  // the agent goes away

  REQUIRE(out.Write("two\n"));  // the container keeps running and writing

  auto adopted = ContainerIo::Open(io, paths, hub);
  REQUIRE(adopted.ok());
  uint64_t before = (*adopted)->log().file().size();
  CHECK(RunUntil(io, [&] { return (*adopted)->log().file().size() > before; }));
  REQUIRE(out.Write("three\n"));
  CHECK(RunUntil(io, [&] { return LogTexts(paths).size() == 3; }));
  CHECK(LogTexts(paths) == Texts{"stdout:one\n", "stdout:two\n", "stdout:three\n"});
}

TEST_CASE("When the log cannot be written, followers still get lines and the loss is logged") {
  TempDir dir;
  REQUIRE(::symlink("/dev/full", (dir / "c.log").c_str()) == 0);
  auto file = LogFile::Open(dir.path(), "c");
  REQUIRE(file.ok());
  int log_fd = ::open((dir / "agent.log").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(log_fd >= 0);
  zlayer::Logger logger("zlayer-agent", zlayer::LogLevel::kInfo, log_fd);
  LogHub hub;
  ContainerLog log("c", std::move(*file), hub, &logger);
  int followed = 0;
  auto sub = hub.Subscribe("c", [&](std::span<const RecordView> records) {
    followed += static_cast<int>(records.size());
  });

  log.Write({Stream::kStdout, {}, "a\n"});
  log.Write({Stream::kStdout, {}, "b\n"});
  CHECK(followed == 2);
  CHECK(log.dropped() == 2);
  ::close(log_fd);
  std::string agent_log = ReadFile(dir / "agent.log");
  CHECK_THAT(agent_log, Catch::Contains("container c: log lines are being lost"));
  CHECK_THAT(agent_log, Catch::Contains("No space left on device"));
}

TEST_CASE("Opening a container's IO with an invalid place fails naming the container") {
  TempDir dir;
  boost::asio::io_context io;
  LogHub hub;
  auto paths = PathsIn(dir);
  zlayer::testing::WriteFile(dir / "data", "not a directory");
  auto opened = ContainerIo::Open(io, paths, hub);
  REQUIRE_FALSE(opened.ok());
  CHECK_THAT(opened.status().message(), Catch::StartsWith("container app-web-0: "));
}

TEST_CASE(
    "Prepare makes the FIFOs and the log file off the loop; Open on the loop only reads "
    "them") {
  TempDir dir;
  auto paths = PathsIn(dir);
  auto prepared = ContainerIo::Prepare(paths, {});
  REQUIRE(prepared.ok());
  struct stat st {};
  REQUIRE(::stat(paths.stdout_fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  REQUIRE(::stat(paths.stderr_fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));

  boost::asio::io_context io;
  LogHub hub;
  auto opened = ContainerIo::Open(io, std::move(*prepared), hub);
  REQUIRE(opened.ok());
  ShimLikeWriter out(paths.stdout_fifo);
  REQUIRE(out.Write("first line\n"));
  CHECK(RunUntil(io, [&] { return LogTexts(paths) == Texts{"stdout:first line\n"}; }));
}

TEST_CASE("Prepare names the container and the path it could not create") {
  TempDir dir;
  auto paths = PathsIn(dir);
  REQUIRE(ContainerIo::Prepare(paths, {}).ok());
  // A plain file where the container's FIFO directory goes.
  ::unlink(paths.stdout_fifo.c_str());
  ::unlink(paths.stderr_fifo.c_str());
  REQUIRE(::rmdir(paths.fifo_dir.c_str()) == 0);
  const int fd = ::open(paths.fifo_dir.c_str(), O_CREAT | O_WRONLY, 0600);
  REQUIRE(fd >= 0);
  ::close(fd);
  auto prepared = ContainerIo::Prepare(paths, {});
  REQUIRE_FALSE(prepared.ok());
  CHECK_THAT(prepared.status().message(),
             Catch::Contains("container app-web-0") && Catch::Contains(paths.fifo_dir));
}
