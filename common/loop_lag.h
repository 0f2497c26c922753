// How late an event loop runs what is ready: a timer is due every `interval`,
// and how long after its due time its handler ran is one sample of the loop's
// lag. A loop that never blocks shows lags well under a millisecond; a handler
// that blocks (a file read, a synchronous call, a sleep) shows up as a sample
// as long as the block (the timer could not run before the handler returned).
//
// The lag of the agent's event loop is what `zlayer status` shows and what
// bench/looplag.sh measures (the goal: p99 under 5 ms).
//
//   LagWindow        the last N samples and their p50, p99 and maximum (pure)
//   LoopLagMonitor   the timer on an io_context that feeds a LagWindow
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <vector>

namespace zlayer {

// Lag over the samples of a window. All zero with no sample.
struct LoopLagStats {
  std::chrono::nanoseconds p50{0};
  std::chrono::nanoseconds p99{0};
  std::chrono::nanoseconds max{0};
  // Samples the figures above are taken over (at most the window's capacity).
  uint64_t samples = 0;
  // Samples recorded since the start, the ones that left the window included.
  uint64_t total_samples = 0;
  // How often a sample is taken (LoopLagMonitor; 0 from a bare LagWindow).
  std::chrono::nanoseconds interval{0};
};

// The most recent `capacity` samples (older ones drop out, first in first
// out). Percentiles are nearest-rank: p50 of 1, 2, 3, 4 is 2, p99 of 100
// samples is the 99th smallest. Not thread-safe.
class LagWindow {
 public:
  // A `capacity` of 0 counts as 1.
  explicit LagWindow(size_t capacity);

  void Add(std::chrono::nanoseconds lag);  // a negative lag counts as 0
  LoopLagStats Stats() const;              // O(capacity)

 private:
  std::vector<std::chrono::nanoseconds> samples_;  // a ring once full
  size_t capacity_;
  size_t next_ = 0;  // where the next sample goes once full
  uint64_t total_ = 0;
};

// Measures the lag of `loop` (the io_context it is given) from a steady_timer
// due every `interval`. A sample is taken when the handler runs; the next timer
// is set from then, so a loop blocked for a second gives one sample of about a
// second, not twenty.
//
// Threads: Start, Stop and Stats are called on the loop's thread, or before the
// loop runs; the timer's handler runs there too. Nothing is locked.
class LoopLagMonitor {
 public:
  struct Options {
    std::chrono::milliseconds interval{50};
    size_t window = 1200;  // one minute of samples at 50 ms
  };

  // `loop` must outlive the monitor.
  explicit LoopLagMonitor(boost::asio::io_context& loop) : LoopLagMonitor(loop, Options{}) {}
  LoopLagMonitor(boost::asio::io_context& loop, Options options);
  LoopLagMonitor(const LoopLagMonitor&) = delete;
  LoopLagMonitor& operator=(const LoopLagMonitor&) = delete;

  // Sets the first timer (a second Start does nothing). Stop cancels it; the
  // samples stay. Neither blocks.
  void Start();
  void Stop();

  LoopLagStats Stats() const;

 private:
  void Arm();

  Options options_;
  boost::asio::steady_timer timer_;
  LagWindow window_;
  bool running_ = false;
};

}  // namespace zlayer
