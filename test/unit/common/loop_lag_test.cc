#include "common/loop_lag.h"

#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <thread>

using namespace std::chrono_literals;
using zlayer::LagWindow;
using zlayer::LoopLagMonitor;
using zlayer::LoopLagStats;

TEST_CASE("An empty window reports zero lag over zero samples") {
  LoopLagStats stats = LagWindow(10).Stats();
  CHECK(stats.samples == 0);
  CHECK(stats.total_samples == 0);
  CHECK(stats.p50 == 0ns);
  CHECK(stats.p99 == 0ns);
  CHECK(stats.max == 0ns);
}

TEST_CASE("Percentiles of a window are nearest-rank over its samples") {
  struct Case {
    std::vector<int> lags_ms;
    int p50, p99, max;
  };
  const Case cases[] = {
      {{7}, 7, 7, 7},
      {{4, 1, 3, 2}, 2, 4, 4},
      {{1, 2, 3, 4, 5}, 3, 5, 5},
      {{0, 0, 0, 0, 0, 0, 0, 0, 0, 100}, 0, 100, 100},
  };
  for (const Case& c : cases) {
    LagWindow window(100);
    for (int ms : c.lags_ms) window.Add(std::chrono::milliseconds(ms));
    LoopLagStats stats = window.Stats();
    INFO(c.lags_ms.size() << " samples");
    CHECK(stats.samples == c.lags_ms.size());
    CHECK(stats.p50 == std::chrono::milliseconds(c.p50));
    CHECK(stats.p99 == std::chrono::milliseconds(c.p99));
    CHECK(stats.max == std::chrono::milliseconds(c.max));
  }
}

TEST_CASE("Of 100 samples 1..100 ms, p50 is 50 ms and p99 is 99 ms") {
  LagWindow window(100);
  for (int ms = 100; ms >= 1; --ms) window.Add(std::chrono::milliseconds(ms));
  LoopLagStats stats = window.Stats();
  CHECK(stats.p50 == 50ms);
  CHECK(stats.p99 == 99ms);
  CHECK(stats.max == 100ms);
}

TEST_CASE("A full window forgets its oldest samples but counts every sample") {
  LagWindow window(3);
  window.Add(900ms);  // drops out
  window.Add(1ms);
  window.Add(2ms);
  window.Add(3ms);
  LoopLagStats stats = window.Stats();
  CHECK(stats.samples == 3);
  CHECK(stats.total_samples == 4);
  CHECK(stats.max == 3ms);
  CHECK(stats.p50 == 2ms);
}

TEST_CASE("A negative lag (a timer that fired early) counts as zero") {
  LagWindow window(2);
  window.Add(-5ms);
  CHECK(window.Stats().max == 0ns);
}

TEST_CASE("Given a loop with a handler that blocks it for 200 ms, the monitor sees that lag") {
  boost::asio::io_context loop;
  LoopLagMonitor monitor(loop, {.interval = 10ms, .window = 1000});
  monitor.Start();
  boost::asio::steady_timer block(loop, 100ms);
  block.async_wait([](boost::system::error_code) { std::this_thread::sleep_for(200ms); });
  boost::asio::steady_timer end(loop, 500ms);
  end.async_wait([&](boost::system::error_code) { monitor.Stop(); });
  loop.run();  // returns once the monitor is stopped: nothing else is pending

  LoopLagStats stats = monitor.Stats();
  // About 30 samples in the 300 ms the loop was free, one of them about 200 ms late.
  CHECK(stats.samples >= 10);
  CHECK(stats.samples == stats.total_samples);
  CHECK(stats.max >= 150ms);
  CHECK(stats.max < 1s);
  CHECK(stats.p50 < 50ms);
}

TEST_CASE("A stopped monitor keeps its samples and takes no more") {
  boost::asio::io_context loop;
  LoopLagMonitor monitor(loop, {.interval = 5ms, .window = 100});
  monitor.Start();
  boost::asio::steady_timer stop(loop, 60ms);
  stop.async_wait([&](boost::system::error_code) { monitor.Stop(); });
  loop.run();
  uint64_t taken = monitor.Stats().total_samples;
  CHECK(taken > 0);
  loop.restart();
  boost::asio::steady_timer later(loop, 50ms);
  later.async_wait([](boost::system::error_code) {});
  loop.run();
  CHECK(monitor.Stats().total_samples == taken);
}
