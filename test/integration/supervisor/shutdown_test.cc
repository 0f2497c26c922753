// Scenarios 3 and 10 of the supervisor contract (ordered shutdown, grace
// period for orphans), the shutdown budget, and forwarded signals.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "test/integration/supervisor/node.h"
#include "test/support/files.h"
#include "test/support/proc.h"

using namespace zlayer::testing;
using namespace std::chrono_literals;

namespace {

struct NamedSignal {
  int number;
  std::string name;
};

std::vector<Event> Sorted(std::vector<Event> events) {
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.unix_ns < b.unix_ns; });
  return events;
}

const Event& Only(const std::vector<Event>& events, const std::string& name) {
  static const Event kMissing{"<missing>", 0};
  for (const Event& e : events) {
    if (e.name == name) return e;
  }
  FAIL_CHECK("no event " << name);
  return kMissing;
}

}  // namespace

TEST_CASE(
    "Given SIGTERM, SIGINT, SIGQUIT, SIGHUP or SIGRTMIN+3, zlayer-init stops the agent, "
    "then containerd by pid only, then the rest, and exits 0") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  const NamedSignal sig = GENERATE(NamedSignal{SIGTERM, "SIGTERM"}, NamedSignal{SIGINT, "SIGINT"},
                                   NamedSignal{SIGQUIT, "SIGQUIT"}, NamedSignal{SIGHUP, "SIGHUP"},
                                   NamedSignal{SIGRTMIN + 3, "SIGRTMIN+3"});
  INFO("zlayer-init " << ToString(mode) << ", stopped with " << sig.name);
  // Each stand-in takes 0.5 s to stop; containerd has a helper child in its
  // own process group, which only the final sweep may signal.
  Node node({.mode = mode,
             .containerd_body = "\"$D/containerd-child.sh\" &\nSTOP_DELAY=0.5\nready\nidle\n",
             .agent_body = "STOP_DELAY=0.5\nready\nidle\n"});
  node.WriteStandIn("containerd-child", "idle\n");
  REQUIRE(node.StartAndWaitUntilUp());
  REQUIRE(node.WaitForEvent("containerd-child-idle"));

  node.Signal(sig.number);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");

  std::vector<Event> events = Sorted(node.Events());
  const Event& agent_stopping = Only(events, "agent-stopping");
  const Event& agent_stopped = Only(events, "agent-stopped");
  const Event& containerd_stopping = Only(events, "containerd-stopping");
  const Event& containerd_stopped = Only(events, "containerd-stopped");
  const Event& child_stopping = Only(events, "containerd-child-stopping");
  INFO("the agent is stopped first, and containerd only once the agent has finished");
  CHECK(MillisBetween(agent_stopped, containerd_stopping) >= 0);
  CHECK(MillisBetween(agent_stopping, containerd_stopping) >= 500);
  INFO("containerd is signalled by pid: its process group is left to the final sweep");
  CHECK(MillisBetween(containerd_stopped, child_stopping) >= 0);
  CHECK(MillisBetween(containerd_stopping, child_stopping) >= 500);
  INFO("every stand-in was stopped exactly once, and nothing of the node remains");
  CHECK(node.CountEvents("agent-stopping") == 1);
  CHECK(node.CountEvents("containerd-stopping") == 1);
  CHECK(node.Leftovers().empty());
}

TEST_CASE(
    "Given orphans with slow SIGTERM handlers, zlayer-init gives them their grace period "
    "before SIGKILL") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  // containerd leaves behind a process in its own session whose TERM handler
  // takes one second (bash builtins only, so the sweep cannot cut it short
  // by killing a helper process).
  Node node({.mode = mode, .containerd_body = "( setsid \"$D/slow.sh\" & )\nready\nidle\n"});
  WriteScript(node.Path("slow.sh"), "#!/bin/bash\nD='" + node.dir().path() + R"SH('
event() { echo "$1 ${EPOCHREALTIME/./}000" >> "$D/events"; }
trap 'event slow-stopping; read -t 1 <> "$D/slow.fifo"; event slow-stopped; exit 0' TERM
event slow-idle
while :; do read -t 3600 <> "$D/slow.fifo"; done
)SH");
  MakeFifo(node.Path("slow.fifo"));
  REQUIRE(node.StartAndWaitUntilUp());
  REQUIRE(node.WaitForEvent("slow-idle"));
  INFO("the slow process is an orphan, reparented to zlayer-init");
  REQUIRE(WaitUntil([&] {
    for (pid_t child : ChildrenOf(node.InitPid())) {
      std::vector<std::string> argv = ProcArgv(child);
      if (argv.size() >= 2 && argv[1] == node.Path("slow.sh")) return true;
    }
    return false;
  }));

  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");

  INFO("the orphan got SIGTERM after containerd stopped, and finished its handler");
  REQUIRE(node.CountEvents("slow-stopping") >= 1);
  REQUIRE(node.CountEvents("slow-stopped") == 1);
  CHECK(MillisBetween(node.EventsNamed("containerd-stopped").front(),
                      node.EventsNamed("slow-stopping").front()) >= 0);
  CHECK(MillisBetween(node.EventsNamed("slow-stopping").front(),
                      node.EventsNamed("slow-stopped").front()) >= 1000);
  CHECK(node.Leftovers().empty());
}

TEST_CASE(
    "Given an agent that ignores SIGTERM, zlayer-init still stops containerd and finishes "
    "within ZLAYER_STOP_TIMEOUT, exiting 0") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode,
             .agent_body = "trap 'event agent-ignores-term' TERM\nready\nidle\n",
             .env = {{"ZLAYER_STOP_TIMEOUT", "3s"}}});
  REQUIRE(node.StartAndWaitUntilUp());

  const auto signalled = std::chrono::steady_clock::now();
  node.Signal(SIGTERM);
  auto status = node.Wait();
  const auto took = std::chrono::steady_clock::now() - signalled;
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
  CHECK(node.CountEvents("agent-ignores-term") >= 1);
  CHECK(node.CountEvents("containerd-stopped") == 1);
  CHECK(MillisBetween(node.EventsNamed("agent-ignores-term").front(),
                      node.EventsNamed("containerd-stopping").front()) >= 0);
  INFO("3 s budget plus 5 s of slack for a loaded machine: took "
       << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(took < 8s);
  CHECK(node.Leftovers().empty());
}

TEST_CASE(
    "SIGUSR1 and SIGUSR2 sent to zlayer-init are forwarded to containerd and the agent, "
    "which keep running") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode});
  REQUIRE(node.StartAndWaitUntilUp());
  const pid_t containerd = node.SlotPid(Slot::kContainerd);
  const pid_t agent = node.SlotPid(Slot::kAgent);

  node.Signal(SIGUSR1);
  CHECK(node.WaitForEvent("containerd-usr1"));
  CHECK(node.WaitForEvent("agent-usr1"));
  node.Signal(SIGUSR2);
  CHECK(node.WaitForEvent("containerd-usr2"));
  CHECK(node.WaitForEvent("agent-usr2"));

  CHECK(node.Running());
  CHECK(node.SlotPid(Slot::kContainerd) == containerd);
  CHECK(node.SlotPid(Slot::kAgent) == agent);
  CHECK(node.CountEvents("containerd-usr1") == 1);
  CHECK(node.CountEvents("agent-usr1") == 1);
  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
}
