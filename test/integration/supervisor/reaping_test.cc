// Scenario 2 of the supervisor contract: orphans are reaped, no zombie
// remains — in node mode and in pass-through mode.
#include <signal.h>

#include <catch2/catch.hpp>

#include "test/integration/supervisor/node.h"
#include "test/support/fifo_gate.h"
#include "test/support/proc.h"

using namespace zlayer::testing;

namespace {

constexpr int kOrphans = 100;

// Forks 100 `cat GATE` processes whose parent subshell exits at once, so each
// is orphaned and reparented to zlayer-init (the nearest subreaper / PID 1).
constexpr const char* kSpawnOrphans = R"SH(
i=0
while [ $i -lt 100 ]; do ( cat "$D/gate" > /dev/null & ); i=$((i+1)); done
event orphans-spawned
)SH";

// Children of zlayer-init that are orphans blocked on the gate.
std::vector<pid_t> OrphansOf(Node& node, const FifoGate& gate) {
  std::vector<pid_t> orphans;
  for (pid_t child : ChildrenOf(node.InitPid())) {
    std::vector<std::string> argv = ProcArgv(child);
    if (argv.size() == 2 && argv[0] == "cat" && argv[1] == gate.path()) orphans.push_back(child);
  }
  return orphans;
}

// Waits until all orphans hang on the gate as children of zlayer-init, lets
// them exit at the same moment, and checks that zlayer-init reaps them all.
void ReleaseOrphansAndExpectThemReaped(Node& node, FifoGate& gate) {
  INFO("the " << kOrphans << " orphans become children of zlayer-init");
  REQUIRE(WaitUntil([&] {
    std::vector<pid_t> orphans = OrphansOf(node, gate);
    if (orphans.size() != kOrphans) return false;
    for (pid_t pid : orphans) {
      if (!gate.HeldOpenBy(pid)) return false;
    }
    return true;
  }));

  gate.Release();
  INFO("they all exit at once: zlayer-init reaps every one, no zombie remains");
  CHECK(WaitUntil([&] { return OrphansOf(node, gate).empty(); }));
  CHECK(WaitUntil([&] { return Zombies(node.Descendants()).empty(); }));
  CAPTURE(Zombies(node.Descendants()));
}

}  // namespace

TEST_CASE(
    "Given a containerd that orphans 100 short-lived processes, zlayer-init reaps them all "
    "and no zombie remains") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode, .containerd_body = std::string(kSpawnOrphans) + "ready\nidle\n"});
  FifoGate gate(node.Path("gate"));
  REQUIRE(node.StartAndWaitUntilUp());

  ReleaseOrphansAndExpectThemReaped(node, gate);

  CHECK(node.Running());
  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
}

TEST_CASE(
    "Given a CLI run in pass-through mode that orphans 100 processes, zlayer-init reaps "
    "them all while the CLI runs") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode,
             .args = {"version"},
             .cli_body = std::string(kSpawnOrphans) + "cat \"$D/cli-gate\" > /dev/null\n"});
  FifoGate gate(node.Path("gate"));
  FifoGate cli_gate(node.Path("cli-gate"));
  node.Start();

  ReleaseOrphansAndExpectThemReaped(node, gate);

  CHECK(node.Running());
  REQUIRE(WaitUntil([&] {
    for (pid_t pid : node.Descendants()) {
      if (cli_gate.HeldOpenBy(pid)) return true;
    }
    return false;
  }));
  cli_gate.Release();
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
}
