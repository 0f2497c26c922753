// Scenario 5 of the supervisor contract: a program to start that is missing
// gives exit 127, one that is not executable 126, each with a message naming
// it, before anything has been started.
#include <catch2/catch.hpp>

#include "test/integration/supervisor/node.h"
#include "test/support/files.h"

using namespace zlayer::testing;

namespace {

struct Case {
  std::string variable;
  std::string value;  // "<dir>/" is replaced by the node's directory
  std::vector<std::string> args;
  int expected;
};

}  // namespace

TEST_CASE(
    "Given a program to start that is missing or not executable, zlayer-init exits 127 or "
    "126 naming it, having started nothing") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  const Case c = GENERATE(Case{"ZLAYER_CONTAINERD_BIN", "/nonexistent/containerd", {}, 127},
                          Case{"ZLAYER_CONTAINERD_BIN", "zl-no-such-containerd", {}, 127},
                          Case{"ZLAYER_CONTAINERD_BIN", "<dir>/not-executable", {}, 126},
                          Case{"ZLAYER_AGENT_BIN", "/nonexistent/zlayer-agent", {}, 127},
                          Case{"ZLAYER_AGENT_BIN", "<dir>/not-executable", {}, 126},
                          Case{"ZLAYER_CLI_BIN", "/nonexistent/zlayer", {"version"}, 127},
                          Case{"ZLAYER_CLI_BIN", "<dir>/not-executable", {"version"}, 126});
  Node node({.mode = mode, .args = c.args});
  WriteFile(node.Path("not-executable"), "#!/bin/sh\nexit 0\n", 0644);
  std::string value = c.value;
  if (value.starts_with("<dir>/")) value = node.Path(value.substr(6));
  node.SetEnv(c.variable, value);
  INFO("zlayer-init " << ToString(mode) << " with " << c.variable << "=" << value);

  node.Start();
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == ExitStatus::Exited(c.expected).ToString());
  CHECK(CountLinesContaining(node.Stderr(), value) >= 1);
  CHECK(node.Starts(Slot::kContainerd) == 0);
  CHECK(node.Starts(Slot::kAgent) == 0);
  CHECK(node.Starts(Slot::kCli) == 0);
}
