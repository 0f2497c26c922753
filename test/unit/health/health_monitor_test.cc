#include "agent/health/health_monitor.h"

#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <deque>
#include <map>

using namespace std::chrono_literals;
using namespace zlayer;
using namespace zlayer::agent::health;

namespace {

// Answers each probe from a per-container script of results (true = ok;
// an empty script answers ok), posted to the loop as a real prober would.
// With `hold`, keeps the callbacks instead so a test can answer later.
class FakeProber : public Prober {
 public:
  explicit FakeProber(boost::asio::io_context& loop) : loop_(loop) {}

  void Probe(const ProbeTarget& target, const spec::HealthCheck&, std::chrono::nanoseconds,
             std::function<void(CheckResult)> done) override {
    ++calls[target.container_id];
    if (hold) {
      held.push_back(std::move(done));
      return;
    }
    auto& script = scripts[target.container_id];
    bool ok = true;
    if (!script.empty()) {
      ok = script.front();
      script.pop_front();
    }
    boost::asio::post(loop_, [done = std::move(done), ok] {
      CheckResult r;
      r.ok = ok;
      r.output = ok ? "fine" : "refused";
      done(r);
    });
  }

  std::map<std::string, std::deque<bool>> scripts;
  std::map<std::string, int> calls;
  bool hold = false;
  std::vector<std::function<void(CheckResult)>> held;

 private:
  boost::asio::io_context& loop_;
};

spec::Health FastHealth(uint32_t retries) {
  spec::Health h;
  h.start_grace = 0s;
  h.interval = 1ms;
  h.timeout = 1s;
  h.retries = retries;
  return h;
}

// Runs the loop until `done()` holds. The 60 s limit only keeps a broken
// monitor from hanging the suite; nothing here asserts on time.
template <typename Pred>
void RunUntil(boost::asio::io_context& io, Pred done) {
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    io.run_one_for(100ms);
    if (io.stopped()) io.restart();
  }
  REQUIRE(done());
}

}  // namespace

TEST_CASE(
    "Given checks that pass, fail twice and pass, the monitor reports healthy, "
    "unhealthy, healthy in that order") {
  boost::asio::io_context io;
  FakeProber prober(io);
  Logger log("test", LogLevel::kError);
  HealthMonitor monitor(io, prober, log);
  prober.scripts["web-0"] = {true, false, false, true};
  std::vector<HealthState> changes;
  std::vector<std::string> outputs;
  monitor.Watch("web-0", FastHealth(2),
                [&](const std::string& id, HealthState state, const CheckResult& last) {
                  CHECK(id == "web-0");
                  changes.push_back(state);
                  outputs.push_back(last.output);
                });
  CHECK(monitor.State("web-0") == HealthState::kStarting);
  RunUntil(io, [&] { return changes.size() >= 3; });
  CHECK(changes == std::vector<HealthState>{HealthState::kHealthy, HealthState::kUnhealthy,
                                            HealthState::kHealthy});
  CHECK(outputs == std::vector<std::string>{"fine", "refused", "fine"});
  CHECK(monitor.State("web-0") == HealthState::kHealthy);
  const auto history = monitor.History("web-0");
  REQUIRE(history.size() == 4);
  CHECK(history[1].output == "refused");
  CHECK(history[0].started.time_since_epoch().count() > 0);
}

TEST_CASE("After Unwatch no check is scheduled any more and the replica is forgotten") {
  boost::asio::io_context io;
  FakeProber prober(io);
  Logger log("test", LogLevel::kError);
  HealthMonitor monitor(io, prober, log);
  monitor.Watch("web-0", FastHealth(3), nullptr);
  RunUntil(io, [&] { return prober.calls["web-0"] >= 2; });
  monitor.Unwatch("web-0");
  io.run();  // returns only when no timer of the monitor is pending
  const int calls = prober.calls["web-0"];
  io.restart();
  io.poll();
  CHECK(prober.calls["web-0"] == calls);
  CHECK_FALSE(monitor.State("web-0").has_value());
  CHECK(monitor.History("web-0").empty());
  CHECK(monitor.watched() == 0);
}

TEST_CASE("A probe still in flight when its replica is unwatched is ignored when it ends") {
  boost::asio::io_context io;
  FakeProber prober(io);
  prober.hold = true;
  Logger log("test", LogLevel::kError);
  HealthMonitor monitor(io, prober, log);
  int changes = 0;
  monitor.Watch("web-0", FastHealth(1), [&](auto&&...) { ++changes; });
  RunUntil(io, [&] { return prober.held.size() == 1; });
  monitor.Unwatch("web-0");
  CheckResult ok;
  ok.ok = true;
  prober.held[0](ok);
  CHECK(changes == 0);
  CHECK_FALSE(monitor.State("web-0").has_value());
}

TEST_CASE("A new Watch of the same id starts over in 'starting' and drops the old run's result") {
  boost::asio::io_context io;
  FakeProber prober(io);
  prober.hold = true;
  Logger log("test", LogLevel::kError);
  HealthMonitor monitor(io, prober, log);
  std::vector<HealthState> first, second;
  monitor.Watch("web-0", FastHealth(1), [&](auto&, HealthState s, auto&) { first.push_back(s); });
  RunUntil(io, [&] { return prober.held.size() == 1; });
  monitor.Watch("web-0", FastHealth(1), [&](auto&, HealthState s, auto&) { second.push_back(s); });
  RunUntil(io, [&] { return prober.held.size() == 2; });
  CheckResult ok;
  ok.ok = true;
  prober.held[0](ok);  // the old run's check
  CHECK(first.empty());
  CHECK(second.empty());
  CHECK(monitor.State("web-0") == HealthState::kStarting);
  prober.held[1](ok);
  CHECK(second == std::vector<HealthState>{HealthState::kHealthy});
  CHECK(monitor.watched() == 1);
}

TEST_CASE("One loop thread checks a hundred replicas, each repeatedly") {
  boost::asio::io_context io;
  FakeProber prober(io);
  Logger log("test", LogLevel::kError);
  HealthMonitor monitor(io, prober, log);
  int healthy = 0;
  for (int i = 0; i < 100; ++i) {
    monitor.Watch("web-" + std::to_string(i), FastHealth(3), [&](auto&&...) { ++healthy; });
  }
  CHECK(monitor.watched() == 100);
  RunUntil(io, [&] {
    for (int i = 0; i < 100; ++i) {
      if (prober.calls["web-" + std::to_string(i)] < 3) return false;
    }
    return true;
  });
  CHECK(healthy == 100);
}

TEST_CASE("Destroying the monitor while a probe is in flight drops that probe's result") {
  boost::asio::io_context io;
  FakeProber prober(io);
  prober.hold = true;
  Logger log("test", LogLevel::kError);
  int changes = 0;
  {
    HealthMonitor monitor(io, prober, log);
    monitor.Watch("web-0", FastHealth(1), [&](auto&&...) { ++changes; });
    RunUntil(io, [&] { return prober.held.size() == 1; });
  }
  CheckResult ok;
  ok.ok = true;
  prober.held[0](ok);
  CHECK(changes == 0);
}
