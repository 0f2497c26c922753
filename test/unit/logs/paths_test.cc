#include "agent/logs/paths.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "test/support/files.h"
#include "test/support/temp_dir.h"

using namespace zlayer::agent::logs;
using zlayer::NodeConfig;
using zlayer::testing::TempDir;
using zlayer::testing::WriteFile;

namespace {
NodeConfig ConfigIn(const TempDir& dir) {
  NodeConfig config;
  config.state_dir = dir / "state/containers";
  config.data_dir = dir / "data";
  return config;
}
bool Exists(const std::string& path) { return std::filesystem::exists(path); }
}  // namespace

TEST_CASE("FIFOs live under the state dir and logs under the data dir's logs folder") {
  NodeConfig config;
  config.state_dir = "/s";
  config.data_dir = "/d";
  auto paths = IoPathsFor(config, "app-web-0");
  REQUIRE(paths.ok());
  CHECK(paths->fifo_dir == "/s/app-web-0");
  CHECK(paths->stdout_fifo == "/s/app-web-0/stdout");
  CHECK(paths->stderr_fifo == "/s/app-web-0/stderr");
  CHECK(paths->log_dir == "/d/logs");
  CHECK(paths->log_file == "/d/logs/app-web-0.log");
}

TEST_CASE("Container ids follow containerd's identifier rule, so no id escapes its directory") {
  for (const char* id : {"web-0", "a.b_c-d", "A1", "x"}) {
    CAPTURE(id);
    CHECK(ValidateContainerId(id).ok());
  }
  CHECK(ValidateContainerId(std::string(76, 'a')).ok());
  for (std::string id : {"", "..", ".", "a/b", "-a", "a-", "a..b", "a b", "a\n", "../x"}) {
    CAPTURE(id);
    CHECK(ValidateContainerId(id).code() == zlayer::StatusCode::kInvalidArgument);
    CHECK_FALSE(IoPathsFor(NodeConfig{}, id).ok());
  }
  CHECK_FALSE(ValidateContainerId(std::string(77, 'a')).ok());
}

TEST_CASE("Preparing a container's IO creates a private FIFO directory and the log directory") {
  TempDir dir;
  auto paths = IoPathsFor(ConfigIn(dir), "web-0");
  REQUIRE(paths.ok());
  REQUIRE(PrepareContainerIo(*paths).ok());
  struct stat st {};
  REQUIRE(::stat(paths->fifo_dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CHECK(std::filesystem::is_directory(paths->log_dir));
  CHECK(PrepareContainerIo(*paths).ok());  // again: nothing changes
}

TEST_CASE("Preparing fails clearly when a file is where a directory should be") {
  TempDir dir;
  auto paths = IoPathsFor(ConfigIn(dir), "web-0");
  REQUIRE(paths.ok());
  WriteFile(dir / "data", "");
  auto s = PrepareContainerIo(*paths);
  CHECK_FALSE(s.ok());
  CHECK_THAT(s.message(), Catch::Contains(dir / "data"));
}

TEST_CASE("Removing a container's IO deletes its FIFOs and all its logs, nobody else's") {
  TempDir dir;
  auto paths = IoPathsFor(ConfigIn(dir), "web-0");
  REQUIRE(paths.ok());
  REQUIRE(PrepareContainerIo(*paths).ok());
  REQUIRE(::mkfifo(paths->stdout_fifo.c_str(), 0600) == 0);
  for (const char* name : {"web-0.log", "web-0.log.1", "web-0.log.2", "web-01.log", "web-0.logx"}) {
    WriteFile(paths->log_dir + "/" + name, "x");
  }
  REQUIRE(RemoveContainerIo(*paths).ok());
  CHECK_FALSE(Exists(paths->fifo_dir));
  CHECK_FALSE(Exists(paths->log_dir + "/web-0.log"));
  CHECK_FALSE(Exists(paths->log_dir + "/web-0.log.1"));
  CHECK_FALSE(Exists(paths->log_dir + "/web-0.log.2"));
  CHECK(Exists(paths->log_dir + "/web-01.log"));
  CHECK(Exists(paths->log_dir + "/web-0.logx"));
  CHECK(RemoveContainerIo(*paths).ok());  // again: nothing left is fine
}
