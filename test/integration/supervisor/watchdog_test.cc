// Scenario 9 of the supervisor contract: an agent that stops sending
// WATCHDOG=1 gets SIGABRT and is restarted.
#include <signal.h>

#include <catch2/catch.hpp>

#include "test/integration/supervisor/node.h"
#include "test/support/files.h"

using namespace zlayer::testing;
using namespace std::chrono_literals;

namespace {

// First start: ready, one ping, then silence. Later starts ping every 0.2 s.
constexpr const char* kAgentThatFallsSilentOnce = R"SH(
echo "${WATCHDOG_USEC-unset}" > "$D/agent.watchdog_usec.$START"
ready
if [ "$START" = 1 ]; then
  systemd-notify WATCHDOG=1
  event agent-last-ping
  idle
else
  idle 0.2
fi
)SH";

}  // namespace

TEST_CASE(
    "Given an agent that stops sending WATCHDOG=1, zlayer-init sends it SIGABRT after "
    "ZLAYER_WATCHDOG_TIMEOUT and restarts it") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode,
             .agent_body = kAgentThatFallsSilentOnce,
             .env = {{"ZLAYER_WATCHDOG_TIMEOUT", "1s"}}});
  node.Start();
  REQUIRE(node.WaitForEvent("agent-last-ping"));
  const pid_t silent_agent = node.WaitForSlot(Slot::kAgent);
  CHECK(ReadFile(node.Path("agent.watchdog_usec.1")) == "1000000\n");

  REQUIRE(node.WaitForEvent("agent-abrt"));
  CHECK(MillisBetween(node.EventsNamed("agent-last-ping").front(),
                      node.EventsNamed("agent-abrt").front()) >= 900);
  CHECK(node.CountLogLines("watchdog") >= 1);

  INFO("a new agent starts, becomes ready and, as it keeps pinging, is left alone");
  const pid_t new_agent = node.WaitForSlot(Slot::kAgent, silent_agent);
  REQUIRE(new_agent != 0);
  CHECK(node.WaitForLog("zlayer-agent is ready", 2));
  CHECK_FALSE(node.WaitForEvent("agent-abrt", 2, 2500ms));
  CHECK(node.SlotPid(Slot::kAgent) == new_agent);
  CHECK(node.Starts(Slot::kAgent) == 2);
  CHECK(node.Starts(Slot::kContainerd) == 1);

  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
}

TEST_CASE("With ZLAYER_WATCHDOG_TIMEOUT=0 the agent gets no WATCHDOG_USEC and is never aborted") {
  Node node({.agent_body = kAgentThatFallsSilentOnce, .env = {{"ZLAYER_WATCHDOG_TIMEOUT", "0"}}});
  REQUIRE(node.StartAndWaitUntilUp());
  CHECK(ReadFile(node.Path("agent.watchdog_usec.1")) == "unset\n");
  CHECK_FALSE(node.WaitForEvent("agent-abrt", 1, 2000ms));
  CHECK(node.Starts(Slot::kAgent) == 1);
  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
}
