#include "agent/health/health_monitor.h"

#include <boost/asio/steady_timer.hpp>

namespace zlayer::agent::health {

// One watched run of a replica. Timer and probe callbacks hold only a
// weak_ptr: once the entry leaves the map (Unwatch, a new Watch, the
// monitor's destruction) their results are dropped.
struct HealthMonitor::Entry {
  Entry(boost::asio::io_context& loop, ProbeTarget target, const spec::Health& health,
        OnChange on_change)
      : target(std::move(target)),
        tracker(health, std::chrono::steady_clock::now()),
        timer(loop),
        on_change(std::move(on_change)) {}

  ProbeTarget target;
  HealthTracker tracker;
  boost::asio::steady_timer timer;
  OnChange on_change;
};

HealthMonitor::HealthMonitor(boost::asio::io_context& loop, Prober& prober, Logger& log)
    : loop_(loop), prober_(prober), log_(log) {}

HealthMonitor::~HealthMonitor() {
  for (auto& [id, entry] : watches_) entry->timer.cancel();
}

void HealthMonitor::Watch(const std::string& container_id, const spec::Health& health,
                          OnChange on_change) {
  Watch(ProbeTarget{container_id}, health, std::move(on_change));
}

void HealthMonitor::Watch(const ProbeTarget& target, const spec::Health& health,
                          OnChange on_change) {
  Unwatch(target.container_id);
  auto entry = std::make_shared<Entry>(loop_, target, health, std::move(on_change));
  watches_[target.container_id] = entry;
  Schedule(entry);
}

void HealthMonitor::Unwatch(const std::string& container_id) {
  auto it = watches_.find(container_id);
  if (it == watches_.end()) return;
  it->second->timer.cancel();
  watches_.erase(it);
}

std::optional<HealthState> HealthMonitor::State(const std::string& container_id) const {
  auto it = watches_.find(container_id);
  if (it == watches_.end()) return std::nullopt;
  return it->second->tracker.state();
}

std::vector<CheckResult> HealthMonitor::History(const std::string& container_id) const {
  auto it = watches_.find(container_id);
  if (it == watches_.end()) return {};
  return it->second->tracker.history();
}

uint32_t HealthMonitor::ConsecutiveFailures(const std::string& container_id) const {
  auto it = watches_.find(container_id);
  if (it == watches_.end()) return 0;
  return it->second->tracker.consecutive_failures();
}

void HealthMonitor::Schedule(const std::shared_ptr<Entry>& entry) {
  entry->timer.expires_at(entry->tracker.NextCheckAt());
  std::weak_ptr<Entry> weak = entry;
  entry->timer.async_wait([this, weak](const boost::system::error_code& error) {
    auto entry = weak.lock();
    if (error || !entry) return;  // cancelled: unwatched or replaced
    RunCheck(entry);
  });
}

void HealthMonitor::RunCheck(const std::shared_ptr<Entry>& entry) {
  const auto started = std::chrono::system_clock::now();
  const auto started_steady = std::chrono::steady_clock::now();
  std::weak_ptr<Entry> weak = entry;
  const spec::Health& health = entry->tracker.health();
  prober_.Probe(entry->target, health.check, health.timeout,
                [this, weak, started, started_steady](CheckResult result) {
                  auto entry = weak.lock();
                  if (!entry) return;  // unwatched while the check ran
                  const auto now = std::chrono::steady_clock::now();
                  result.started = started;
                  result.duration = now - started_steady;
                  const bool changed = entry->tracker.OnResult(result, now);
                  if (changed) {
                    const HealthState state = entry->tracker.state();
                    log_.Info("replica {}: {} ({})", entry->target.container_id,
                              HealthStateName(state), result.output.substr(0, 200));
                    // on_change may Unwatch or re-Watch this id: keep the entry
                    // alive and reschedule only if it is still the watched one.
                    if (entry->on_change) {
                      const CheckResult last = entry->tracker.history().back();  // bounded
                      entry->on_change(entry->target.container_id, state, last);
                    }
                  }
                  auto it = watches_.find(entry->target.container_id);
                  if (it != watches_.end() && it->second == entry) Schedule(entry);
                });
}

}  // namespace zlayer::agent::health
