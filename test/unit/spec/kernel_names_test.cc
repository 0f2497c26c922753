#include "agent/spec/kernel_names.h"

#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <csignal>

namespace zlayer::spec {
namespace {

TEST_CASE("Capabilities are accepted with or without CAP_ and in any case") {
  CHECK(CanonicalCapability("NET_ADMIN") == "CAP_NET_ADMIN");
  CHECK(CanonicalCapability("cap_sys_time") == "CAP_SYS_TIME");
  CHECK(CanonicalCapability("CAP_CHECKPOINT_RESTORE") == "CAP_CHECKPOINT_RESTORE");
  CHECK(CanonicalCapability("all") == "ALL");
  CHECK_FALSE(CanonicalCapability("WIZARDRY").has_value());
  CHECK_FALSE(CanonicalCapability("").has_value());
  CHECK(AllCapabilities().size() == 41);
  CHECK(AllCapabilities()[21] == "CAP_SYS_ADMIN");  // index is the capability's bit
}

TEST_CASE("Signals are read by name, short name or number") {
  struct Case {
    const char* text;
    int signal;
  };
  const Case cases[] = {{"SIGTERM", SIGTERM}, {"TERM", SIGTERM},      {"sigint", SIGINT},
                        {"9", SIGKILL},       {"SIGRTMIN", 32},       {"SIGRTMIN+3", 35},
                        {"RTMAX-1", 63},      {"SIGWINCH", SIGWINCH}, {"64", 64}};
  for (const Case& c : cases) {
    INFO(c.text);
    CHECK(ParseSignal(c.text) == c.signal);
  }
  for (const char* text : {"", "SIGFOO", "0", "65", "-1", "SIGRTMIN+40", "RTMAX-40"}) {
    INFO(text);
    CHECK_FALSE(ParseSignal(text).has_value());
  }
}

TEST_CASE("Signal numbers are named back for people") {
  CHECK(SignalName(SIGTERM) == "SIGTERM");
  CHECK(SignalName(SIGABRT) == "SIGABRT");
  CHECK(SignalName(35) == "SIGRTMIN+3");
  CHECK(SignalName(99) == "99");
}

TEST_CASE("Ulimit names map to their RLIMIT resources") {
  CHECK(UlimitResource("nofile") == RLIMIT_NOFILE);
  CHECK(UlimitResource("memlock") == RLIMIT_MEMLOCK);
  CHECK_FALSE(UlimitResource("files").has_value());
  CHECK(UlimitNames().size() == 16);
}

}  // namespace
}  // namespace zlayer::spec
