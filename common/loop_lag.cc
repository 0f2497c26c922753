#include "common/loop_lag.h"

#include <algorithm>

namespace zlayer {

LagWindow::LagWindow(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {
  samples_.reserve(capacity_);
}

void LagWindow::Add(std::chrono::nanoseconds lag) {
  lag = std::max(lag, std::chrono::nanoseconds(0));
  ++total_;
  if (samples_.size() < capacity_) {
    samples_.push_back(lag);
    return;
  }
  samples_[next_] = lag;
  next_ = (next_ + 1) % capacity_;
}

LoopLagStats LagWindow::Stats() const {
  LoopLagStats stats;
  stats.total_samples = total_;
  stats.samples = samples_.size();
  if (samples_.empty()) return stats;
  std::vector<std::chrono::nanoseconds> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  // Nearest rank: the smallest sample with at least p percent of the samples at or below it.
  auto rank = [&](size_t percent) {
    size_t n = sorted.size();
    size_t r = (percent * n + 99) / 100;  // ceil(percent/100 * n), at least 1 for n >= 1
    return sorted[std::max<size_t>(r, 1) - 1];
  };
  stats.p50 = rank(50);
  stats.p99 = rank(99);
  stats.max = sorted.back();
  return stats;
}

LoopLagMonitor::LoopLagMonitor(boost::asio::io_context& loop, Options options)
    : options_(options), timer_(loop), window_(options.window) {}

void LoopLagMonitor::Start() {
  if (running_) return;
  running_ = true;
  Arm();
}

void LoopLagMonitor::Stop() {
  running_ = false;
  timer_.cancel();
}

LoopLagStats LoopLagMonitor::Stats() const {
  LoopLagStats stats = window_.Stats();
  stats.interval = options_.interval;
  return stats;
}

void LoopLagMonitor::Arm() {
  timer_.expires_after(options_.interval);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || !running_) return;
    window_.Add(std::chrono::steady_clock::now() - timer_.expiry());
    Arm();
  });
}

}  // namespace zlayer
