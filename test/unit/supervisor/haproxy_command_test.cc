#include "supervisor/haproxy_command.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

using zlayer::IngressPathsFor;
using zlayer::NodeConfig;
using zlayer::init::HaproxyArgv;
using zlayer::init::HaproxyBootstrapConfig;
using zlayer::init::WriteHaproxyBootstrapConfigIfAbsent;

namespace {

zlayer::IngressPaths PathsUnder(const std::string& run_dir) {
  NodeConfig config;
  config.run_dir = run_dir;
  return IngressPathsFor(config);
}

// A fresh directory under /tmp, removed at the end of the test.
struct ScratchDir {
  ScratchDir() {
    char name[] = "/tmp/zl-haproxy-XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    path = name;
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
  std::string path;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE(
    "HAProxy runs in master-worker mode with systemd readiness, the node's configuration and a "
    "master CLI for root only") {
  auto argv = HaproxyArgv("/usr/sbin/haproxy", PathsUnder("/tmp/zl-1/run"));
  CHECK(argv == std::vector<std::string>{"/usr/sbin/haproxy", "-Ws", "-f",
                                         "/tmp/zl-1/run/ingress/haproxy.cfg", "-S",
                                         "/tmp/zl-1/run/ingress/master.sock,mode,600"});
}

TEST_CASE(
    "The bootstrap configuration opens the runtime API for the agent, bounds old workers, sets "
    "timeouts and listens nowhere") {
  const std::string config = HaproxyBootstrapConfig(PathsUnder("/tmp/zl-1/run"));
  CHECK_THAT(config,
             Catch::Contains("\nglobal\n    stats socket /tmp/zl-1/run/ingress/admin.sock mode 600 "
                             "level admin expose-fd listeners\n"));
  CHECK_THAT(config, Catch::Contains("    hard-stop-after 30s\n"));
  CHECK_THAT(config, Catch::Contains("\ndefaults\n"));
  CHECK_THAT(config, Catch::Contains("    timeout connect "));
  CHECK_THAT(config, Catch::Contains("    timeout client "));
  CHECK_THAT(config, Catch::Contains("    timeout server "));
  CHECK_THAT(config, !Catch::Contains("bind ") && !Catch::Contains("frontend") &&
                         !Catch::Contains("listen ") && !Catch::Contains("daemon"));
}

TEST_CASE("The bootstrap configuration is written when absent and never over the agent's") {
  ScratchDir dir;
  auto paths = PathsUnder(dir.path);
  std::filesystem::create_directories(paths.dir);

  auto wrote = WriteHaproxyBootstrapConfigIfAbsent(paths);
  REQUIRE(wrote.ok());
  CHECK(*wrote);
  CHECK(Slurp(paths.config_file) == HaproxyBootstrapConfig(paths));

  std::ofstream(paths.config_file, std::ios::trunc) << "# the agent's\n";
  wrote = WriteHaproxyBootstrapConfigIfAbsent(paths);
  REQUIRE(wrote.ok());
  CHECK_FALSE(*wrote);
  CHECK(Slurp(paths.config_file) == "# the agent's\n");
  // No temporary file is left behind.
  CHECK(std::distance(std::filesystem::directory_iterator(paths.dir),
                      std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("A bootstrap configuration that cannot be written is an error naming the file") {
  auto paths = PathsUnder("/nonexistent/zl");
  auto wrote = WriteHaproxyBootstrapConfigIfAbsent(paths);
  REQUIRE_FALSE(wrote.ok());
  CHECK_THAT(wrote.status().message(), Catch::Contains("/nonexistent/zl/ingress/haproxy.cfg"));
}
