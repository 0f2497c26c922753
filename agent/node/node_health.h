// Whether the node is healthy: the answer of `zlayer health` (and so of the node image's
// Docker HEALTHCHECK).
//
// The node is healthy when the agent's event loop answers (it computed the answer),
// containerd is reachable, and no program zlayer-init supervises is down. Deployments do
// not count: one crash-looping workload must not mark the node unhealthy (an orchestrator
// watching Docker's health would otherwise restart the node and every healthy workload
// with it); `zlayer health DEPLOYMENT` reports a deployment.
//
// Thread safety: a pure function over plain values.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "common/supervised_children.h"

namespace zlayer::agent::node {

struct NodeHealth {
  bool healthy = false;
  // When not healthy: the first failing condition in one line, e.g.
  // "containerd not reachable: connection refused", "containerd is down: restart 3 in 400ms".
  std::string reason;
  bool containerd_reachable = false;
  // As zlayer-init last reported them; empty without zlayer-init.
  std::vector<SupervisedChild> children;
};

// Judges the node from what the agent knows of containerd and from the supervised-children
// file as read (ReadSupervisedChildren). A NotFound read means nothing is supervised (the
// agent runs without zlayer-init) and does not count against the node; any other read error
// makes the node unhealthy, since a child's state is then unknown.
NodeHealth JudgeNodeHealth(bool containerd_reachable, const std::string& containerd_error,
                           const Result<std::vector<SupervisedChild>>& children);

}  // namespace zlayer::agent::node
