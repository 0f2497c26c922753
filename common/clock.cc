#include "common/clock.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>

namespace zlayer {

namespace {

struct PendingAlarm {
  PendingAlarm(boost::asio::io_context& loop, Clock::SteadyTime at) : timer(loop, at) {}
  boost::asio::steady_timer timer;
  std::function<void()> fire;  // cleared by Cancel: a handler already queued finds it empty
};

}  // namespace

Alarm LoopClock::At(SteadyTime at, std::function<void()> fire) {
  auto pending = std::make_shared<PendingAlarm>(loop_, at);
  pending->fire = std::move(fire);
  // The handler holds a weak_ptr: the Alarm owns the timer, so destroying it
  // cancels the wait.
  pending->timer.async_wait(
      [weak = std::weak_ptr<PendingAlarm>(pending)](const boost::system::error_code& ec) {
        std::shared_ptr<PendingAlarm> alarm = weak.lock();
        if (ec || !alarm || !alarm->fire) return;
        std::exchange(alarm->fire, nullptr)();
      });
  return Alarm([pending] {
    pending->fire = nullptr;
    pending->timer.cancel();
  });
}

}  // namespace zlayer
