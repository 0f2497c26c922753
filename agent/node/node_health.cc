#include "agent/node/node_health.h"

namespace zlayer::agent::node {

NodeHealth JudgeNodeHealth(bool containerd_reachable, const std::string& containerd_error,
                           const Result<std::vector<SupervisedChild>>& children) {
  NodeHealth health;
  health.containerd_reachable = containerd_reachable;
  if (children.ok()) health.children = *children;
  auto fail = [&](std::string reason) {
    if (health.reason.empty()) health.reason = std::move(reason);
  };
  // A child that is down says more than its consequence (containerd unreachable).
  for (const SupervisedChild& child : health.children) {
    if (!child.up)
      fail(child.name + " is down" + (child.detail.empty() ? "" : ": " + child.detail));
  }
  if (!children.ok() && children.status().code() != StatusCode::kNotFound) {
    fail("supervised programs unknown: " + children.status().message());
  }
  if (!containerd_reachable) {
    fail("containerd not reachable" + (containerd_error.empty() ? "" : ": " + containerd_error));
  }
  health.healthy = health.reason.empty();
  return health;
}

}  // namespace zlayer::agent::node
