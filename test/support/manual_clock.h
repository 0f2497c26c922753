// Virtual time for code that takes a zlayer::Clock (common/clock.h): time
// stands still until the test moves it, and then every alarm that falls due
// runs on the loop, in time order, each at its own time.
//
// The clock drives its loop: it runs `loop` on the calling thread until the
// loop has nothing left to do ("settled"). Work sent off the loop with RunOff
// (common/executors.h) counts as the loop's until its result is back, so a
// settled loop also means that no pool has work of it in flight. Use one
// thread: the test's, which is then the loop's.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "common/clock.h"

namespace zlayer::testing {

class ManualClock final : public Clock {
 public:
  // Starts at an arbitrary steady time and at 2026-01-01T00:00:00Z; both
  // clocks move together. Must outlive every alarm it gave out.
  explicit ManualClock(boost::asio::io_context& loop);

  SteadyTime SteadyNow() const override { return now_; }
  WallTime WallNow() const override { return wall_start_ + (now_ - start_); }
  Alarm At(SteadyTime at, std::function<void()> fire) override;

  // How much virtual time has passed since the clock was made.
  std::chrono::nanoseconds Elapsed() const { return now_ - start_; }

  // Runs the loop until it is idle and no alarm is due. Throws when the loop
  // is still busy after kHangTimeout of real time (something hangs), so a
  // broken program fails the test instead of hanging it.
  void Settle();
  // Settles, then moves time forward by `by`, stopping at each alarm that
  // falls due on the way to run it (and what it starts) before going on.
  void Advance(std::chrono::nanoseconds by);
  // Settles, then advances alarm by alarm until `condition` holds (true), or
  // until the next alarm is later than `limit` from now, or none is left
  // (false; time stays at the last alarm it ran).
  bool AdvanceUntil(const std::function<bool()>& condition,
                    std::chrono::nanoseconds limit = std::chrono::minutes(1));

 private:
  struct Pending {
    std::function<void()> fire;  // cleared when cancelled or posted
  };
  using Key = std::pair<SteadyTime, uint64_t>;  // due time, then order of At

  void AdvanceTo(SteadyTime to);

  boost::asio::io_context& loop_;
  const SteadyTime start_;
  const WallTime wall_start_;
  SteadyTime now_;
  uint64_t next_ = 0;
  std::map<Key, std::shared_ptr<Pending>> alarms_;
};

}  // namespace zlayer::testing
