#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>

#include "agent/daemon/adapters.h"
#include "agent/logs/log_hub.h"
#include "agent/logs/paths.h"
#include "test/support/manual_pool.h"
#include "test/support/temp_dir.h"

using namespace zlayer;
using agent::daemon::OutputDrains;
using zlayer::testing::ManualPool;
using zlayer::testing::TempDir;

namespace {

struct Drains {
  TempDir dir;
  NodeConfig config;
  boost::asio::io_context loop;
  ManualPool files;
  agent::logs::LogHub hub;
  Logger log{"test", LogLevel::kError};
  std::optional<OutputDrains> drains;

  Drains() {
    config.state_dir = dir.Path("containers");
    config.data_dir = dir.Path("data");
    drains.emplace(loop, files.get_executor(), config, hub, log, agent::logs::LogFileOptions{});
  }
  // Runs the file jobs newest first (as two threads of the files pool may) and the
  // loop, until neither has anything left.
  void RunNewestFirst() {
    while (files.RunNewest() || loop.poll() > 0) loop.restart();
  }
  agent::logs::ContainerIoPaths Paths(const std::string& id) {
    return *agent::logs::IoPathsFor(config, id);
  }
};

}  // namespace

TEST_CASE("A container detached while its files are being prepared keeps none of them") {
  // Given an attach whose files are not prepared yet, and a detach that removes the logs,
  Drains d;
  std::optional<Status> attached;
  d.drains->Attach("web-0", [&](Status s) { attached = s; });
  d.drains->Detach("web-0", /*remove_logs=*/true);

  // when the files pool happens to take the removal first,
  d.RunNewestFirst();

  // the attach is aborted and neither the FIFOs nor the log file stay behind.
  REQUIRE(attached.has_value());
  CHECK(attached->code() == StatusCode::kAborted);
  CHECK_FALSE(std::filesystem::exists(d.Paths("web-0").fifo_dir));
  CHECK_FALSE(std::filesystem::exists(d.Paths("web-0").log_file));
}

TEST_CASE("A container attached again after a detach gets its own files") {
  // Given attach, detach with removal and attach again, before any file work ran,
  Drains d;
  std::optional<Status> first, second;
  d.drains->Attach("web-0", [&](Status s) { first = s; });
  d.drains->Detach("web-0", /*remove_logs=*/true);
  d.drains->Attach("web-0", [&](Status s) { second = s; });

  d.RunNewestFirst();

  // the first attach is aborted, the second succeeds, and its FIFOs and log file exist.
  REQUIRE(first.has_value());
  CHECK(first->code() == StatusCode::kAborted);
  REQUIRE(second.has_value());
  CHECK(second->ok());
  CHECK(std::filesystem::exists(d.Paths("web-0").stdout_fifo));
  CHECK(std::filesystem::exists(d.Paths("web-0").log_file));
  d.drains->Detach("web-0", /*remove_logs=*/false);
  d.RunNewestFirst();
}
