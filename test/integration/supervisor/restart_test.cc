// Scenarios 6, 7 and 8 of the supervisor contract: restarts after a kill -9,
// back-off; restarts forever for a program that crashes after being ready,
// give-up for one that never becomes ready; and the start timeout.
#include <signal.h>

#include <catch2/catch.hpp>
#include <regex>

#include "common/duration.h"
#include "test/integration/supervisor/node.h"
#include "test/support/files.h"
#include "test/support/proc.h"

using namespace zlayer::testing;
using namespace std::chrono_literals;

namespace {

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// True once <run dir>/<file> names `host_pid` as seen inside zlayer-init's
// PID namespace.
bool PidFileNames(Node& node, const std::string& file, pid_t host_pid) {
  auto inner = InnermostPid(host_pid);
  return inner && Trim(ReadFile(node.RunDir() + "/" + file)) == std::to_string(*inner);
}

// The delays of the "restarting <name> in <duration>" lines, in order.
std::vector<std::chrono::nanoseconds> RestartDelays(const Node& node, const std::string& name) {
  std::vector<std::chrono::nanoseconds> delays;
  const std::regex pattern("restarting " + name + " in ([0-9][0-9a-z.]*)");
  for (const std::string& line : SplitLines(node.Stderr())) {
    std::smatch match;
    if (!std::regex_search(line, match, pattern)) continue;
    auto delay = zlayer::ParseDuration(match[1].str());
    INFO("log line: " << line);
    REQUIRE(delay.ok());
    delays.push_back(*delay);
  }
  return delays;
}

double Millis(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e6; }

void StopAndExpectExit0(Node& node) {
  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
  CHECK(node.Leftovers().empty());
}

}  // namespace

TEST_CASE(
    "Given kill -9 of containerd, zlayer-init starts a new containerd and leaves the agent "
    "running") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode});
  REQUIRE(node.StartAndWaitUntilUp());
  const pid_t containerd = node.SlotPid(Slot::kContainerd);
  const pid_t agent = node.SlotPid(Slot::kAgent);
  REQUIRE(containerd != 0);
  REQUIRE(agent != 0);
  CHECK(WaitUntil([&] { return PidFileNames(node, "containerd.pid", containerd); }));

  kill(containerd, SIGKILL);

  const pid_t new_containerd = node.WaitForSlot(Slot::kContainerd, containerd);
  REQUIRE(new_containerd != 0);
  CHECK(node.WaitForEvent("containerd-idle", 2));
  CHECK(node.WaitForLog("containerd is ready", 2));
  CHECK(WaitUntil([&] { return PidFileNames(node, "containerd.pid", new_containerd); }));
  CHECK(node.CountLogLines("crashed after being ready") >= 1);

  INFO("the agent is not restarted: it reconnects by itself");
  CHECK(node.SlotPid(Slot::kAgent) == agent);
  CHECK(node.Starts(Slot::kAgent) == 1);
  CHECK(node.CountEvents("agent-stopping") == 0);
  CHECK(node.Starts(Slot::kContainerd) == 2);

  StopAndExpectExit0(node);
}

TEST_CASE(
    "Given kill -9 of the agent, zlayer-init starts a new agent that becomes ready, and "
    "leaves containerd running") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode});
  REQUIRE(node.StartAndWaitUntilUp());
  const pid_t containerd = node.SlotPid(Slot::kContainerd);
  const pid_t agent = node.SlotPid(Slot::kAgent);
  REQUIRE(containerd != 0);
  REQUIRE(agent != 0);
  CHECK(WaitUntil([&] { return PidFileNames(node, "zlayer-agent.pid", agent); }));

  kill(agent, SIGKILL);

  const pid_t new_agent = node.WaitForSlot(Slot::kAgent, agent);
  REQUIRE(new_agent != 0);
  CHECK(node.WaitForLog("zlayer-agent is ready", 2));
  CHECK(WaitUntil([&] { return PidFileNames(node, "zlayer-agent.pid", new_agent); }));

  INFO("containerd is untouched");
  CHECK(node.SlotPid(Slot::kContainerd) == containerd);
  CHECK(node.Starts(Slot::kContainerd) == 1);
  CHECK(node.CountEvents("containerd-stopping") == 0);
  CHECK(node.Starts(Slot::kAgent) == 2);

  StopAndExpectExit0(node);
}

TEST_CASE(
    "Given a containerd that crashes at once forever, zlayer-init backs off with growing "
    "delays, gives up after ZLAYER_RESTART_LIMIT starts that never became ready and exits 1") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode, .containerd_body = "exit 1\n", .env = {{"ZLAYER_RESTART_LIMIT", "4"}}});
  node.Start();
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 1");

  INFO("four failures, so four starts and three announced restarts");
  REQUIRE(node.Starts(Slot::kContainerd) == 4);
  const std::vector<std::chrono::nanoseconds> delays = RestartDelays(node, "containerd");
  REQUIRE(delays.size() == 3);
  INFO("delays: " << Millis(delays[0]) << " ms, " << Millis(delays[1]) << " ms, "
                  << Millis(delays[2]) << " ms");
  CHECK(delays[0] >= 50ms);
  CHECK(delays[2] > delays[0]);
  CHECK(delays[2] >= 2 * delays[0] * 3 / 4);

  INFO("each restart waited at least the announced delay");
  std::vector<Event> starts = node.EventsNamed("containerd-started");
  REQUIRE(starts.size() == 4);
  for (size_t i = 0; i < delays.size(); ++i) {
    CAPTURE(i, MillisBetween(starts[i], starts[i + 1]));
    CHECK(MillisBetween(starts[i], starts[i + 1]) >= Millis(delays[i]) - 5);
  }
  CHECK(node.CountLogLines("never became ready (1 of 4 starts in a row)") == 1);
  CHECK(node.CountLogLines("never became ready (4 of 4 starts in a row)") == 1);
  CHECK(node.CountLogLines("giving up") >= 1);
  CHECK(node.Starts(Slot::kAgent) == 0);
  CHECK(node.Leftovers().empty());
}

TEST_CASE(
    "Given an agent that crashes soon after becoming ready, forever, zlayer-init restarts it "
    "more often than ZLAYER_RESTART_LIMIT and the node keeps running") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode,
             .agent_body = "ready\nsleep 0.3\nexit 3\n",
             .env = {{"ZLAYER_RESTART_LIMIT", "3"}}});
  node.Start();
  // Back-off 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s: six starts fit well inside the wait.
  REQUIRE(WaitUntil([&] { return node.Starts(Slot::kAgent) >= 6; }));
  CHECK(node.Running());
  CHECK(node.CountLogLines("crashed after being ready") >= 5);
  CHECK(node.CountLogLines("never became ready") == 0);
  CHECK(node.CountLogLines("giving up") == 0);
  CHECK(RestartDelays(node, "zlayer-agent").size() >= 5);
  INFO("containerd runs on, untouched");
  CHECK(node.Starts(Slot::kContainerd) == 1);
  CHECK(node.CountEvents("containerd-stopping") == 0);

  StopAndExpectExit0(node);
}

TEST_CASE(
    "Given an agent that exits at once, forever, zlayer-init gives up after "
    "ZLAYER_RESTART_LIMIT starts that never became ready, stops containerd and exits 1") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode, .agent_body = "exit 2\n", .env = {{"ZLAYER_RESTART_LIMIT", "3"}}});
  node.Start();
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 1");
  CHECK(node.Starts(Slot::kAgent) == 3);
  CHECK(RestartDelays(node, "zlayer-agent").size() == 2);
  CHECK(node.CountLogLines("never became ready") >= 3);
  CHECK(node.CountLogLines("crashed after being ready") == 0);
  CHECK(node.CountLogLines("zlayer-agent never became ready in 3 starts in a row; giving up") == 1);
  INFO("containerd ran once, all along, and was stopped before zlayer-init exited");
  CHECK(node.Starts(Slot::kContainerd) == 1);
  CHECK(node.CountEvents("containerd-stopped") == 1);
  CHECK(node.Leftovers().empty());
}

TEST_CASE(
    "Given a containerd that never sends READY=1, zlayer-init stops it after "
    "ZLAYER_START_TIMEOUT and counts a failure") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode,
             .containerd_body = "idle\n",
             .env = {{"ZLAYER_START_TIMEOUT", "1s"}, {"ZLAYER_RESTART_LIMIT", "2"}}});
  node.Start();
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 1");
  std::vector<Event> starts = node.EventsNamed("containerd-started");
  REQUIRE(starts.size() == 2);
  CHECK(MillisBetween(starts[0], starts[1]) >= 1000);
  CHECK(node.CountLogLines("after its start timeout: never became ready") >= 1);
  CHECK(node.CountLogLines("giving up") >= 1);
  CHECK(node.Starts(Slot::kAgent) == 0);
  CHECK(node.Leftovers().empty());
}
