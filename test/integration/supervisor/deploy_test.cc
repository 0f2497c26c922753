// `zlayer-init deploy --spec FILE`: the node runs, and once the agent is
// ready the CLI deploys FILE, once; the node keeps running.
#include <signal.h>

#include <catch2/catch.hpp>

#include "test/integration/supervisor/node.h"
#include "test/support/files.h"
#include "test/support/proc.h"

using namespace zlayer::testing;

TEST_CASE(
    "zlayer-init deploy --spec F runs `zlayer deploy --spec F` once, after the agent is "
    "ready, and keeps the node running") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  // The agent takes half a second before it reports ready, so a CLI started
  // too early would show up before "agent-notifying".
  Node node({.mode = mode,
             .agent_body = "sleep 0.5\nevent agent-notifying\nready\nidle\n",
             .cli_body = "printf '%s\\n' \"$@\" > \"$D/cli.argv.$START\"\nevent cli-done\n"});
  const std::string spec = node.Path("app.yaml");
  WriteFile(spec, "version: v1\n");
  node.SetArgs({"deploy", "--spec", spec});
  node.Start();

  REQUIRE(node.WaitForEvent("cli-done"));
  CHECK(ReadFile(node.Path("cli.argv.1")) == "deploy\n--spec\n" + spec + "\n");
  REQUIRE(node.EventIndex("agent-notifying") >= 0);
  CHECK(node.EventIndex("cli-started") > node.EventIndex("agent-notifying"));

  INFO("the CLI has finished, the node keeps running");
  CHECK(WaitUntil([&] { return node.SlotPid(Slot::kCli) == 0; }));
  CHECK(WaitUntil([&] {
    for (pid_t pid : node.Descendants()) {
      std::vector<std::string> argv = ProcArgv(pid);
      if (argv.size() >= 2 && argv[1] == node.ScriptPath(Slot::kCli)) return false;
    }
    return true;
  }));
  const pid_t agent = node.SlotPid(Slot::kAgent);
  CHECK(agent != 0);
  CHECK(node.SlotPid(Slot::kContainerd) != 0);
  CHECK(node.Running());

  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
  CHECK(node.Starts(Slot::kCli) == 1);
  CHECK(node.Starts(Slot::kAgent) == 1);
  CHECK(node.Leftovers().empty());
}
