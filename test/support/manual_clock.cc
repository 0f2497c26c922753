#include "test/support/manual_clock.h"

#include <boost/asio/post.hpp>
#include <stdexcept>

#include "test/support/wait_until.h"

namespace zlayer::testing {

namespace {

// 2026-01-01T00:00:00Z.
constexpr std::chrono::seconds kWallStart{1767225600};

}  // namespace

ManualClock::ManualClock(boost::asio::io_context& loop)
    : loop_(loop),
      start_(SteadyTime(std::chrono::hours(1000))),
      wall_start_(WallTime(kWallStart)),
      now_(start_) {}

Alarm ManualClock::At(SteadyTime at, std::function<void()> fire) {
  const Key key{at, next_++};
  auto pending = std::make_shared<Pending>();
  pending->fire = std::move(fire);
  alarms_[key] = pending;
  return Alarm([this, key, pending] {
    pending->fire = nullptr;
    alarms_.erase(key);
  });
}

void ManualClock::Settle() {
  for (;;) {
    loop_.restart();
    loop_.run_for(kHangTimeout);
    if (!loop_.stopped()) throw std::runtime_error("the loop did not settle within 20 s");
    if (alarms_.empty() || alarms_.begin()->first.first > now_) return;
    // Due: post it, so that it runs on the loop like any handler.
    std::shared_ptr<Pending> pending = alarms_.begin()->second;
    alarms_.erase(alarms_.begin());
    boost::asio::post(loop_, [pending] {
      if (pending->fire) std::exchange(pending->fire, nullptr)();
    });
  }
}

void ManualClock::AdvanceTo(SteadyTime to) {
  Settle();
  while (!alarms_.empty() && alarms_.begin()->first.first <= to) {
    now_ = std::max(now_, alarms_.begin()->first.first);
    Settle();
  }
  now_ = std::max(now_, to);
  Settle();
}

void ManualClock::Advance(std::chrono::nanoseconds by) { AdvanceTo(now_ + by); }

bool ManualClock::AdvanceUntil(const std::function<bool()>& condition,
                               std::chrono::nanoseconds limit) {
  const SteadyTime deadline = now_ + limit;
  Settle();
  while (!condition()) {
    if (alarms_.empty() || alarms_.begin()->first.first > deadline) return false;
    AdvanceTo(alarms_.begin()->first.first);
  }
  return true;
}

}  // namespace zlayer::testing
