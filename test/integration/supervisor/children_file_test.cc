// <run dir>/children, zlayer-init's word about which supervised programs are
// up (they sent READY=1) and which are down (starting, backing off, waiting,
// stopped). `zlayer health` reads it; here only what zlayer-init writes.
#include <signal.h>

#include <catch2/catch.hpp>
#include <map>

#include "common/supervised_children.h"
#include "test/integration/supervisor/node.h"
#include "test/support/files.h"

using namespace zlayer::testing;

namespace {

// name -> child, from the node's children file; empty when it cannot be read.
std::map<std::string, zlayer::SupervisedChild> Children(const Node& node) {
  std::map<std::string, zlayer::SupervisedChild> by_name;
  auto children = zlayer::ReadSupervisedChildren(node.RunDir());
  if (!children.ok()) return by_name;
  for (const auto& child : *children) by_name[child.name] = child;
  return by_name;
}

// A stand-in that, from its second start on, does not send READY=1 until the
// test creates $D/<slot>.go: the restart stays observable as "down".
constexpr const char* kReadyOnlyWhenToldAfterARestart =
    "if [ \"$START\" -gt 1 ]; then\n"
    "  while [ ! -e \"$D/$SLOT.go\" ]; do sleep 0.02; done\n"
    "fi\n"
    "ready\n"
    "idle\n";

void Touch(const Node& node, const std::string& file) { WriteFile(node.Path(file), ""); }

}  // namespace

TEST_CASE(
    "Given a node coming up, the children file names each program down before its READY=1 and "
    "up after, and down again once the node has stopped") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode,
             .containerd_body = "cp \"$ZLAYER_RUN_DIR/children\" \"$D/children.at-start\"\n"
                                "ready\nidle\n"});
  REQUIRE(node.StartAndWaitUntilUp());

  INFO("what containerd found when it started: the file was already written");
  auto at_start = zlayer::ParseSupervisedChildren(ReadFile(node.Path("children.at-start")));
  REQUIRE(at_start.ok());
  REQUIRE(at_start->size() == 4);
  CHECK((*at_start)[0].name == "containerd");
  CHECK_FALSE((*at_start)[0].up);
  CHECK((*at_start)[1].name == "zlayer-agent");
  CHECK_FALSE((*at_start)[1].up);
  CHECK((*at_start)[1].detail == "waiting for containerd");
  CHECK((*at_start)[2].name == "dnsmasq");
  CHECK((*at_start)[3].name == "haproxy");

  auto now = Children(node);
  CHECK(now["containerd"].up);
  CHECK(now["zlayer-agent"].up);
  CHECK(now["dnsmasq"].up);
  CHECK(WaitUntil([&] { return Children(node)["haproxy"].up; }));  // after its READY=1

  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
  auto after = Children(node);
  CHECK_FALSE(after["containerd"].up);
  CHECK_FALSE(after["zlayer-agent"].up);
  CHECK_FALSE(after["dnsmasq"].up);
  CHECK_FALSE(after["haproxy"].up);
}

TEST_CASE(
    "Given kill -9 of the agent, the children file says it is down while it backs off and "
    "restarts, and up once it sent READY=1 again") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode, .agent_body = kReadyOnlyWhenToldAfterARestart});
  REQUIRE(node.StartAndWaitUntilUp());
  const pid_t agent = node.SlotPid(Slot::kAgent);
  REQUIRE(agent != 0);

  kill(agent, SIGKILL);
  REQUIRE(node.WaitForLog("restarting zlayer-agent in"));
  auto down = Children(node);
  INFO("agent: " << down["zlayer-agent"].detail);
  CHECK_FALSE(down["zlayer-agent"].up);
  CHECK(down["containerd"].up);

  INFO("still down while the new agent starts and has not sent READY=1");
  REQUIRE(node.WaitForEvent("agent-started", 2));
  CHECK_FALSE(Children(node)["zlayer-agent"].up);

  Touch(node, "agent.go");
  REQUIRE(node.WaitForLog("zlayer-agent is ready", 2));
  CHECK(Children(node)["zlayer-agent"].up);
}

TEST_CASE(
    "Given kill -9 of containerd, the children file says containerd is down until it is ready "
    "again, and the agent up all along") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode, .containerd_body = kReadyOnlyWhenToldAfterARestart});
  REQUIRE(node.StartAndWaitUntilUp());
  const pid_t containerd = node.SlotPid(Slot::kContainerd);
  REQUIRE(containerd != 0);

  kill(containerd, SIGKILL);
  REQUIRE(node.WaitForLog("restarting containerd in"));
  auto down = Children(node);
  INFO("containerd: " << down["containerd"].detail);
  CHECK_FALSE(down["containerd"].up);
  CHECK(down["zlayer-agent"].up);

  Touch(node, "containerd.go");
  REQUIRE(node.WaitForLog("containerd is ready", 2));
  CHECK(Children(node)["containerd"].up);
  CHECK(Children(node)["zlayer-agent"].up);
}
