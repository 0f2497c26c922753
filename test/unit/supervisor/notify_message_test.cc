#include "supervisor/notify_message.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using zlayer::init::ParseNotifyMessage;

TEST_CASE("READY=1 alone marks a program ready") {
  auto m = ParseNotifyMessage("READY=1");
  CHECK(m.ready);
  CHECK_FALSE(m.watchdog_ping);
  CHECK_FALSE(m.status);
}

TEST_CASE("Several assignments in one datagram are all understood") {
  auto m = ParseNotifyMessage(
      "READY=1\nSTATUS=serving on /run/x.sock\nMAINPID=42\nWATCHDOG_USEC=5000000\n"
      "EXTEND_TIMEOUT_USEC=2000000\nSTOPPING=1\nBARRIER=1\n");
  CHECK(m.ready);
  CHECK(m.status == "serving on /run/x.sock");
  CHECK(m.main_pid == 42);
  CHECK(m.watchdog_usec == 5s);
  CHECK(m.extend_timeout == 2s);
  CHECK(m.stopping);
  CHECK(m.barrier);
}

TEST_CASE("WATCHDOG=1 pings and WATCHDOG=trigger fires the watchdog") {
  CHECK(ParseNotifyMessage("WATCHDOG=1").watchdog_ping);
  auto trigger = ParseNotifyMessage("WATCHDOG=trigger");
  CHECK(trigger.watchdog_trigger);
  CHECK_FALSE(trigger.watchdog_ping);
}

TEST_CASE("Malformed values and unknown keys are ignored, as systemd ignores them") {
  auto m = ParseNotifyMessage("MAINPID=abc\nWATCHDOG_USEC=-5\nREADY=0\nFOO=bar\nnoequals\n\n");
  CHECK_FALSE(m.main_pid);
  CHECK_FALSE(m.watchdog_usec);
  CHECK_FALSE(m.ready);
}

TEST_CASE("A STATUS may contain '=' signs") {
  CHECK(ParseNotifyMessage("STATUS=a=b").status == "a=b");
}

TEST_CASE("RELOADING=1 is understood as a reload, not as readiness or a stop") {
  auto reloading = ParseNotifyMessage("RELOADING=1");
  CHECK(reloading.reloading);
  CHECK_FALSE(reloading.ready);
  CHECK_FALSE(reloading.stopping);
  // What HAProxy -Ws sends once the new worker runs.
  auto ready = ParseNotifyMessage("READY=1\nMAINPID=27469");
  CHECK(ready.ready);
  CHECK_FALSE(ready.reloading);
  CHECK(ready.main_pid == 27469);
}
