// Runs the health checks of the replicas it watches, on the agent's event
// loop: one timer per watched replica, one check in flight per replica at
// most, and a HealthTracker per replica deciding the state. The checks
// themselves are the Prober's (tcp/http asynchronous on the loop, commands
// on a small pool), so watching 100 replicas needs no thread per replica.
//
// Thread safety: none. Construct, call and destroy on the loop's thread;
// callbacks (OnChange) run there. Destroying the monitor stops every timer;
// probes still in flight are then ignored when they end.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/health/health_tracker.h"
#include "agent/health/prober.h"
#include "agent/spec/model.h"
#include "common/log.h"

namespace zlayer::agent::health {

class HealthMonitor {
 public:
  // Called on the loop after a check changed the replica's state.
  using OnChange = std::function<void(const std::string& container_id, HealthState state,
                                      const CheckResult& last)>;

  // `prober` and `log` are not owned and must outlive the monitor.
  HealthMonitor(boost::asio::io_context& loop, Prober& prober, Logger& log);
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Starts checking `container_id` (a new run of the replica: state
  // kStarting, the first check now). Replaces an earlier watch of the same
  // id; a result of the earlier watch still in flight is ignored.
  void Watch(const std::string& container_id, const spec::Health& health, OnChange on_change);
  // As Watch, aiming tcp checks at `target.host` instead of 127.0.0.1.
  void Watch(const ProbeTarget& target, const spec::Health& health, OnChange on_change);
  // Stops the timers; a probe in flight is ignored when it ends. Unknown ids
  // are ignored.
  void Unwatch(const std::string& container_id);

  // nullopt when `container_id` is not watched.
  std::optional<HealthState> State(const std::string& container_id) const;
  // The last results (at most kHealthHistory, oldest first); empty when not
  // watched.
  std::vector<CheckResult> History(const std::string& container_id) const;
  uint32_t ConsecutiveFailures(const std::string& container_id) const;
  size_t watched() const { return watches_.size(); }

 private:
  struct Entry;
  void Schedule(const std::shared_ptr<Entry>& entry);
  void RunCheck(const std::shared_ptr<Entry>& entry);

  boost::asio::io_context& loop_;
  Prober& prober_;
  Logger& log_;
  std::map<std::string, std::shared_ptr<Entry>> watches_;
};

}  // namespace zlayer::agent::health
