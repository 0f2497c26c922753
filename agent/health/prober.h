// How one health check is carried out, behind an interface so the monitor can
// be tested with a fake.
//
// Contract for Probe:
//   - It is called on the agent's event loop and must not block it.
//   - `done` is called exactly once, on the event loop, never inline from
//     Probe itself (so callers may hold no re-entrancy guard), at the latest
//     about `timeout` after the call (then with ok=false and an output saying
//     the check timed out).
//   - A failed check is a CheckResult with ok=false and an output that says
//     why; there is no separate error channel.
//   - The prober fills `output` and `exit_code`; `started` and `duration` may
//     be left for the caller (HealthMonitor sets them).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "agent/health/health_tracker.h"
#include "agent/spec/model.h"

namespace zlayer::agent::health {

// Where a check is aimed.
struct ProbeTarget {
  // The replica's container (command checks run inside it).
  std::string container_id;
  // The address tcp checks connect to: the replica's own, or the node's
  // loopback for a replica on the node's network. http checks use the host of
  // their URL, except that localhost and 127.0.0.1 mean this address (the
  // replica's own loopback is not reachable from the node).
  std::string host = "127.0.0.1";
};

class Prober {
 public:
  virtual ~Prober() = default;
  virtual void Probe(const ProbeTarget& target, const spec::HealthCheck& check,
                     std::chrono::nanoseconds timeout, std::function<void(CheckResult)> done) = 0;
};

}  // namespace zlayer::agent::health
