#include "agent/network/subnet_allocator.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "test/support/temp_dir.h"

using zlayer::StatusCode;
using zlayer::agent::network::FileSubnetAllocator;
using zlayer::agent::network::Ipv4Cidr;
using zlayer::agent::network::SubnetPool;

namespace {
Ipv4Cidr Cidr(const std::string& text) {
  auto cidr = Ipv4Cidr::Parse(text);
  REQUIRE(cidr.ok());
  return *cidr;
}
}  // namespace

TEST_CASE("CIDR texts parse to prefixes, and bad ones say why") {
  CHECK(Cidr("10.200.0.0/16").ToString() == "10.200.0.0/16");
  CHECK(Cidr("0.0.0.0/0").prefix == 0);
  struct Case {
    const char* text;
    const char* why;
  };
  const Case cases[] = {
      {"10.200.0.0", "not a CIDR"},           {"10.200.0/16", "not an IPv4 address"},
      {"10.200.0.0/33", "0 to 32"},           {"10.200.0.0/x", "0 to 32"},
      {"10.200.0.1/16", "host bits are set"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto cidr = Ipv4Cidr::Parse(c.text);
    REQUIRE_FALSE(cidr.ok());
    CHECK_THAT(cidr.status().message(), Catch::Contains(c.why));
  }
  CHECK(Cidr("10.200.0.0/16").Contains(Cidr("10.200.7.0/24")));
  CHECK_FALSE(Cidr("10.200.0.0/16").Contains(Cidr("10.201.0.0/24")));
  CHECK(Cidr("10.200.7.0/24").Overlaps(Cidr("10.200.0.0/16")));
}

TEST_CASE("Deployments get the lowest free /24, the same one when asked again") {
  SubnetPool pool(Cidr("10.200.0.0/16"));
  CHECK(*pool.Allocate("web") == "10.200.0.0/24");
  CHECK(*pool.Allocate("db") == "10.200.1.0/24");
  CHECK(*pool.Allocate("web") == "10.200.0.0/24");
  REQUIRE(pool.Release("web").ok());
  CHECK(*pool.Allocate("cache") == "10.200.0.0/24");
  CHECK(pool.Release("never-allocated").ok());
}

TEST_CASE("A full range is a resource-exhausted error, and a range below /24 is refused") {
  SubnetPool pool(Cidr("10.200.0.0/23"));
  CHECK(pool.Allocate("a").ok());
  CHECK(pool.Allocate("b").ok());
  auto third = pool.Allocate("c");
  REQUIRE_FALSE(third.ok());
  CHECK(third.status().code() == StatusCode::kResourceExhausted);

  SubnetPool tiny(Cidr("10.200.0.0/25"));
  CHECK(tiny.Allocate("a").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Allocations from before a range change are kept, and new ones avoid them") {
  SubnetPool pool(Cidr("10.200.0.0/16"), {{"old", "10.199.0.0/24"}, {"web", "10.200.0.0/24"}});
  CHECK(*pool.Allocate("old") == "10.199.0.0/24");
  CHECK(*pool.Allocate("db") == "10.200.1.0/24");
}

TEST_CASE("The file allocator's subnets survive a restart, and a release is persisted too") {
  zlayer::testing::TempDir dir;
  const std::string path = dir.Path("network/subnets.json");
  {
    auto allocator = FileSubnetAllocator::Open(path, Cidr("10.200.0.0/16"));
    REQUIRE(allocator.ok());
    CHECK(*(*allocator)->Allocate("web") == "10.200.0.0/24");
    CHECK(*(*allocator)->Allocate("db") == "10.200.1.0/24");
  }
  {
    auto allocator = FileSubnetAllocator::Open(path, Cidr("10.200.0.0/16"));
    REQUIRE(allocator.ok());
    CHECK((*allocator)->Allocations().size() == 2);
    CHECK(*(*allocator)->Allocate("db") == "10.200.1.0/24");
    REQUIRE((*allocator)->Release("web").ok());
  }
  auto allocator = FileSubnetAllocator::Open(path, Cidr("10.200.0.0/16"));
  REQUIRE(allocator.ok());
  CHECK((*allocator)->Allocations() == std::map<std::string, std::string>{{"db", "10.200.1.0/24"}});
}

TEST_CASE("A file that is not a subnet allocation is reported as data loss") {
  zlayer::testing::TempDir dir;
  const std::string path = dir.Path("subnets.json");
  std::ofstream(path) << R"({"subnets": {"web": "nonsense"}})";
  auto allocator = FileSubnetAllocator::Open(path, Cidr("10.200.0.0/16"));
  REQUIRE_FALSE(allocator.ok());
  CHECK(allocator.status().code() == StatusCode::kDataLoss);
  CHECK_THAT(allocator.status().message(), Catch::Contains("web"));
}
