#include "agent/runtime/node_limits.h"

#include <sys/resource.h>

#include <catch2/catch.hpp>

using zlayer::runtime::BoundingSetFromStatus;
using zlayer::runtime::CapabilitiesFromMask;
using zlayer::runtime::CapabilitySet;
using zlayer::runtime::NodeCapabilities;
using zlayer::runtime::NodeHardLimits;
using zlayer::runtime::RlimitType;

TEST_CASE("The bounding set of this project's VMs names 40 capabilities and not SYS_RESOURCE") {
  auto caps = CapabilitiesFromMask("000001fffeffffff");
  REQUIRE(caps.ok());
  CHECK(caps->size() == 40);
  CHECK_FALSE(caps->count("CAP_SYS_RESOURCE"));
  CHECK(caps->count("CAP_SYS_ADMIN"));
  CHECK(caps->count("CAP_CHECKPOINT_RESTORE"));  // bit 40
}

TEST_CASE("A capability mask maps bit n to the n-th capability") {
  CHECK(*CapabilitiesFromMask("0") == CapabilitySet{});
  CHECK(*CapabilitiesFromMask("3") == CapabilitySet{"CAP_CHOWN", "CAP_DAC_OVERRIDE"});
  CHECK(*CapabilitiesFromMask("1000000") == CapabilitySet{"CAP_SYS_RESOURCE"});
  // Bits beyond what Linux defines are ignored.
  CHECK(*CapabilitiesFromMask("8000000000000001") == CapabilitySet{"CAP_CHOWN"});
}

TEST_CASE("A mask that is not 1 to 16 hex digits is refused") {
  for (const char* mask : {"", "xyz", "12345678901234567", "-1", "0x3"}) {
    INFO(mask);
    CHECK_FALSE(CapabilitiesFromMask(mask).ok());
  }
}

TEST_CASE("The CapBnd line is found in a /proc status text") {
  const char* status =
      "Name:\tzlayer-agent\n"
      "CapInh:\t0000000000000000\n"
      "CapPrm:\t000001ffffffffff\n"
      "CapBnd:\t0000000000000005\n"
      "CapAmb:\t0000000000000000\n";
  auto caps = BoundingSetFromStatus(status);
  REQUIRE(caps.ok());
  CHECK(*caps == CapabilitySet{"CAP_CHOWN", "CAP_DAC_READ_SEARCH"});
}

TEST_CASE("A status text without a CapBnd line is an error") {
  auto caps = BoundingSetFromStatus("Name:\tx\nXCapBnd:\t1\n");
  REQUIRE_FALSE(caps.ok());
  CHECK_THAT(caps.status().message(), Catch::Contains("CapBnd"));
  CHECK_FALSE(BoundingSetFromStatus("CapBnd:\tzz\n").ok());
}

TEST_CASE("This process's bounding set can be read and holds at least CAP_KILL") {
  auto caps = NodeCapabilities();
  REQUIRE(caps.ok());
  CHECK(caps->count("CAP_KILL"));
}

TEST_CASE("This process's hard limits cover every rlimit and match getrlimit") {
  auto limits = NodeHardLimits();
  REQUIRE(limits.ok());
  CHECK(limits->size() == 16);
  struct rlimit nofile {};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &nofile) == 0);
  uint64_t want = nofile.rlim_max == RLIM_INFINITY ? UINT64_MAX : nofile.rlim_max;
  CHECK(limits->at("RLIMIT_NOFILE") == want);
  CHECK(limits->count("RLIMIT_RTTIME"));
}

TEST_CASE("A ulimit name becomes its OCI rlimit type") {
  CHECK(RlimitType("nofile") == "RLIMIT_NOFILE");
  CHECK(RlimitType("sigpending") == "RLIMIT_SIGPENDING");
}
