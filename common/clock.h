// Where time enters: the steady and wall clocks, and alarms on the event loop.
//
// Code that decides by time takes a Clock& instead of reading
// std::chrono::*_clock::now() or owning asio timers, so that its tests run in
// virtual time (test/support/manual_clock.h) instead of waiting. LoopClock is
// the real one: the system clocks and asio steady_timers on one io_context.
//
// A Clock is used from its loop only: At() must be called there, and every
// alarm's callback runs there.
#pragma once

#include <chrono>
#include <functional>
#include <utility>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace zlayer {

// A pending callback of Clock::At. Cancel() or destruction (or assigning
// another alarm to it) cancels it: once that returns the callback never runs,
// even if it was already due. Cancelling an alarm that fired does nothing.
// Move-only; a default-constructed Alarm is not armed.
class Alarm {
 public:
  Alarm() = default;
  explicit Alarm(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  Alarm(Alarm&& other) noexcept : cancel_(std::exchange(other.cancel_, nullptr)) {}
  Alarm& operator=(Alarm&& other) noexcept {
    if (this != &other) {
      Cancel();
      cancel_ = std::exchange(other.cancel_, nullptr);
    }
    return *this;
  }
  Alarm(const Alarm&) = delete;
  Alarm& operator=(const Alarm&) = delete;
  ~Alarm() { Cancel(); }

  void Cancel() {
    if (auto cancel = std::exchange(cancel_, nullptr)) cancel();
  }

 private:
  std::function<void()> cancel_;
};

class Clock {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;

  // For durations, deadlines and back-off.
  virtual SteadyTime SteadyNow() const = 0;
  // For what people read: started_at, exited_at, next restart.
  virtual WallTime WallNow() const = 0;
  // Runs `fire` on the loop once the steady clock has reached `at` (soon, when
  // `at` has passed already), unless the returned alarm is cancelled first.
  // The clock must outlive the alarm.
  [[nodiscard]] virtual Alarm At(SteadyTime at, std::function<void()> fire) = 0;
};

// The system clocks, and alarms as asio steady_timers on `loop`.
class LoopClock final : public Clock {
 public:
  explicit LoopClock(boost::asio::io_context& loop) : loop_(loop) {}

  SteadyTime SteadyNow() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
  Alarm At(SteadyTime at, std::function<void()> fire) override;

 private:
  boost::asio::io_context& loop_;
};

}  // namespace zlayer
