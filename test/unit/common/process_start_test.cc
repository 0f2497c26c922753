#include "common/process_start.h"

#include <unistd.h>

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using zlayer::ParseProcStatStartTicks;

namespace {

// A real record of `sh` with fields 3..21 as the kernel writes them.
constexpr const char* kShell =
    "4242 (sh) S 1 4242 4242 0 -1 4194560 112 0 0 0 0 0 0 0 20 0 1 0 123456 2342912 224 "
    "18446744073709551615 1 1 0 0 0 0 0 0 65536 0 0 0 17 1 0 0 0 0 0";

}  // namespace

TEST_CASE("The start time is field 22 of /proc/<pid>/stat") {
  auto ticks = ParseProcStatStartTicks(kShell);
  REQUIRE(ticks.ok());
  CHECK(*ticks == 123456);
}

TEST_CASE("A command name with spaces and parentheses does not shift the fields") {
  auto ticks = ParseProcStatStartTicks(
      "77 (my (odd) prog) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0");
  REQUIRE(ticks.ok());
  CHECK(*ticks == 98765);
}

TEST_CASE("A record that is cut short or garbled is an error, not a guess") {
  CHECK_FALSE(ParseProcStatStartTicks("").ok());
  CHECK_FALSE(ParseProcStatStartTicks("1 (init) S 0 1 1").ok());
  CHECK_FALSE(
      ParseProcStatStartTicks("77 (x) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12ab 0").ok());
}

TEST_CASE("Ticks after boot become a wall time: boot was since_boot before now") {
  const auto now = std::chrono::system_clock::time_point(1'700'000'000s);
  // Booted 1000 s ago; the process started 990.5 s after boot, i.e. 9.5 s ago.
  auto started = zlayer::StartTimeFromTicks(99050, 100, 1000s, now);
  CHECK(now - started == 9500ms);
}

TEST_CASE("Our own process started before now, and not long before") {
  auto started = zlayer::ProcessStartTime(getpid());
  REQUIRE(started.ok());
  const auto age = std::chrono::system_clock::now() - *started;
  CHECK(age >= -20ms);  // a tick of rounding
  CHECK(age < 1h);
  CHECK(zlayer::ProcessStartTime(0x7ffffff0).status().code() == zlayer::StatusCode::kNotFound);
}
