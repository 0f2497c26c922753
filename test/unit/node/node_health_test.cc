#include "agent/node/node_health.h"

#include <catch2/catch.hpp>

using namespace zlayer;
using zlayer::agent::node::JudgeNodeHealth;

namespace {

Result<std::vector<SupervisedChild>> Children(std::vector<SupervisedChild> children) {
  return children;
}

const Result<std::vector<SupervisedChild>> kNoSupervisor =
    NotFoundError("open /run/zlayer/children: no such file");

}  // namespace

TEST_CASE("Given containerd reachable and every supervised child up, the node is healthy") {
  auto health =
      JudgeNodeHealth(true, "", Children({{"containerd", true, ""}, {"agent", true, ""}}));
  CHECK(health.healthy);
  CHECK(health.reason.empty());
  CHECK(health.children.size() == 2);
}

TEST_CASE(
    "Given an agent run without zlayer-init (no children file), the node is judged on containerd "
    "alone") {
  CHECK(JudgeNodeHealth(true, "", kNoSupervisor).healthy);
  auto down = JudgeNodeHealth(false, "connection refused", kNoSupervisor);
  CHECK_FALSE(down.healthy);
  CHECK(down.reason == "containerd not reachable: connection refused");
}

TEST_CASE("Given a supervised child that is down, the node is unhealthy and the reason names it") {
  auto health = JudgeNodeHealth(
      false, "connection refused",
      Children({{"containerd", false, "restart 3 in 400ms after exit 1"}, {"agent", true, ""}}));
  CHECK_FALSE(health.healthy);
  CHECK(health.reason == "containerd is down: restart 3 in 400ms after exit 1");
}

TEST_CASE(
    "Given a children file that cannot be read, the node is unhealthy: a child's state is "
    "unknown") {
  auto health = JudgeNodeHealth(true, "", InvalidArgumentError("children: line 2: bad"));
  CHECK_FALSE(health.healthy);
  CHECK(health.reason == "supervised programs unknown: children: line 2: bad");
}
