// dnsmasq under zlayer-init: started beside containerd with the node's hosts
// directory and bridges, up as soon as it runs (it sends no READY=1),
// restarted forever, and never the reason the node stops or the agent waits.
#include <signal.h>

#include <catch2/catch.hpp>
#include <map>

#include "common/supervised_children.h"
#include "test/integration/supervisor/node.h"
#include "test/support/files.h"

using namespace zlayer::testing;
using namespace std::chrono_literals;

namespace {

std::map<std::string, zlayer::SupervisedChild> Children(const Node& node) {
  std::map<std::string, zlayer::SupervisedChild> by_name;
  auto children = zlayer::ReadSupervisedChildren(node.RunDir());
  if (!children.ok()) return by_name;
  for (const auto& child : *children) by_name[child.name] = child;
  return by_name;
}

bool Contains(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

void StopAndExpectExit0(Node& node) {
  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
  CHECK(node.Leftovers().empty());
}

}  // namespace

TEST_CASE(
    "Given a node coming up, dnsmasq runs with the node's hosts directory, which exists, and "
    "listens on the node's bridges only, and it is up without sending READY=1") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode,
             .dnsmasq_body = "printf '%s\\n' \"$@\" > \"$D/dnsmasq.argv.$START\"\n"
                             "test -d \"$ZLAYER_RUN_DIR/dns/hosts\" && event hosts-dir-exists\n"
                             "idle\n",
             .env = {{"ZLAYER_NETWORK_CIDR", "10.231.0.0/16"}}});
  REQUIRE(node.StartAndWaitUntilUp());
  REQUIRE(node.WaitForEvent("dnsmasq-idle"));
  CHECK(node.CountEvents("hosts-dir-exists") == 1);

  const std::vector<std::string> argv = ReadLines(node.Path("dnsmasq.argv.1"));
  INFO("dnsmasq's arguments: " << ReadFile(node.Path("dnsmasq.argv.1")));
  CHECK(Contains(argv, "--hostsdir=" + node.RunDir() + "/dns/hosts"));
  CHECK(Contains(argv, "--interface=zl0ae7*"));
  CHECK(Contains(argv, "--except-interface=lo"));
  CHECK(Contains(argv, "--keep-in-foreground"));

  CHECK(WaitUntil([&] { return Children(node)["dnsmasq"].up; }));
  CHECK(node.CountLogLines("started dnsmasq") == 1);
  StopAndExpectExit0(node);
}

TEST_CASE(
    "Given kill -9 of dnsmasq, zlayer-init starts a new one and leaves containerd and the agent "
    "running") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode});
  REQUIRE(node.StartAndWaitUntilUp());
  REQUIRE(node.WaitForEvent("dnsmasq-idle"));
  const pid_t dnsmasq = node.SlotPid(Slot::kDnsmasq);
  const pid_t agent = node.SlotPid(Slot::kAgent);
  const pid_t containerd = node.SlotPid(Slot::kContainerd);
  REQUIRE(dnsmasq != 0);

  kill(dnsmasq, SIGKILL);

  CHECK(node.WaitForSlot(Slot::kDnsmasq, dnsmasq) != 0);
  CHECK(node.WaitForEvent("dnsmasq-idle", 2));
  CHECK(node.WaitForLog("restarting dnsmasq in"));
  CHECK(WaitUntil([&] { return Children(node)["dnsmasq"].up; }));
  CHECK(node.SlotPid(Slot::kAgent) == agent);
  CHECK(node.SlotPid(Slot::kContainerd) == containerd);
  CHECK(node.Starts(Slot::kAgent) == 1);
  CHECK(node.Starts(Slot::kContainerd) == 1);
  StopAndExpectExit0(node);
}

TEST_CASE(
    "Given a dnsmasq that exits at once forever, the node still comes up and zlayer-init keeps "
    "restarting it past ZLAYER_RESTART_LIMIT") {
  Node node({.dnsmasq_body = "exit 2\n", .env = {{"ZLAYER_RESTART_LIMIT", "2"}}});
  REQUIRE(node.StartAndWaitUntilUp());
  CHECK(WaitUntil([&] { return node.Starts(Slot::kDnsmasq) >= 4; }));
  CHECK(node.Running());
  CHECK(node.CountLogLines("giving up") == 0);
  CHECK(Children(node)["zlayer-agent"].up);
  StopAndExpectExit0(node);
}

TEST_CASE("Given no dnsmasq installed, the node comes up without it and says so") {
  Node node({.env = {{"ZLAYER_DNSMASQ_BIN", "/nonexistent/dnsmasq"}}});
  REQUIRE(node.StartAndWaitUntilUp());
  CHECK(node.CountLogLines("/nonexistent/dnsmasq") >= 1);
  CHECK(WaitUntil([&] { return node.CountLogLines("restarting dnsmasq in") >= 2; }));
  CHECK(node.Running());
  auto dnsmasq = Children(node)["dnsmasq"];
  CHECK_FALSE(dnsmasq.up);
  CHECK_THAT(dnsmasq.detail, Catch::Contains("cannot start"));
  StopAndExpectExit0(node);
}

TEST_CASE(
    "Given a shutdown, dnsmasq is stopped after containerd, so names resolve while the "
    "workloads stop") {
  Node node({});
  REQUIRE(node.StartAndWaitUntilUp());
  REQUIRE(node.WaitForEvent("dnsmasq-idle"));
  StopAndExpectExit0(node);
  REQUIRE(node.CountEvents("dnsmasq-stopping") == 1);
  CHECK(node.EventIndex("containerd-stopped") < node.EventIndex("dnsmasq-stopping"));
  CHECK(node.EventIndex("agent-stopped") < node.EventIndex("dnsmasq-stopping"));
}
