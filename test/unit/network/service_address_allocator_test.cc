#include "agent/network/services/service_address_allocator.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "test/support/files.h"
#include "test/support/temp_dir.h"

using zlayer::Ipv4Cidr;
using zlayer::StatusCode;
using zlayer::agent::network::services::FileServiceAddressAllocator;
using zlayer::agent::network::services::ServiceAddressPool;

namespace {
Ipv4Cidr Cidr(const std::string& text) {
  auto cidr = Ipv4Cidr::Parse(text);
  REQUIRE(cidr.ok());
  return *cidr;
}
}  // namespace

TEST_CASE("Services get the lowest free address after the network address, the same one again") {
  ServiceAddressPool pool(Cidr("10.201.0.0/16"));
  CHECK(*pool.Allocate("web", "api") == "10.201.0.1");
  CHECK(*pool.Allocate("web", "db") == "10.201.0.2");
  CHECK(*pool.Allocate("shop", "api") == "10.201.0.3");
  CHECK(*pool.Allocate("web", "api") == "10.201.0.1");
  REQUIRE(pool.Release("web", "api").ok());
  CHECK(*pool.Allocate("cache", "redis") == "10.201.0.1");
  CHECK(pool.Release("web", "never-allocated").ok());
  CHECK(pool.Allocations() == std::map<std::string, std::string>{{"cache/redis", "10.201.0.1"},
                                                                 {"shop/api", "10.201.0.3"},
                                                                 {"web/db", "10.201.0.2"}});
}

TEST_CASE("Releasing a deployment frees all its services and no one else's") {
  ServiceAddressPool pool(Cidr("10.201.0.0/16"));
  REQUIRE(pool.Allocate("web", "api").ok());
  REQUIRE(pool.Allocate("web", "db").ok());
  REQUIRE(pool.Allocate("web-2", "api").ok());
  REQUIRE(pool.Allocate("wea", "api").ok());
  REQUIRE(pool.ReleaseDeployment("web").ok());
  CHECK(pool.Allocations() ==
        std::map<std::string, std::string>{{"wea/api", "10.201.0.4"}, {"web-2/api", "10.201.0.3"}});
  CHECK(pool.ReleaseDeployment("nothing").ok());
}

TEST_CASE("A full range is a resource-exhausted error; small ranges skip network and broadcast") {
  ServiceAddressPool pool(Cidr("10.201.0.0/30"));  // .1 and .2
  CHECK(*pool.Allocate("d", "a") == "10.201.0.1");
  CHECK(*pool.Allocate("d", "b") == "10.201.0.2");
  auto third = pool.Allocate("d", "c");
  REQUIRE_FALSE(third.ok());
  CHECK(third.status().code() == StatusCode::kResourceExhausted);
  CHECK_THAT(third.status().message(), Catch::Contains("10.201.0.0/30"));

  ServiceAddressPool pair(Cidr("10.201.0.0/31"));  // a point-to-point pair: both usable
  CHECK(*pair.Allocate("d", "a") == "10.201.0.0");
  CHECK(*pair.Allocate("d", "b") == "10.201.0.1");
  CHECK(pair.Allocate("d", "c").status().code() == StatusCode::kResourceExhausted);
}

TEST_CASE("Addresses from before a range change are kept, and new ones avoid them") {
  ServiceAddressPool pool(Cidr("10.201.0.0/16"),
                          {{"old/api", "10.199.0.7"}, {"web/api", "10.201.0.1"}});
  CHECK(*pool.Allocate("old", "api") == "10.199.0.7");
  CHECK(*pool.Allocate("web", "db") == "10.201.0.2");
}

TEST_CASE("The file allocator's addresses survive a restart, and releases are persisted too") {
  zlayer::testing::TempDir dir;
  const std::string path = dir.Path("network/services.json");
  {
    auto allocator = FileServiceAddressAllocator::Open(path, Cidr("10.201.0.0/16"));
    REQUIRE(allocator.ok());
    CHECK(*(*allocator)->Allocate("web", "api") == "10.201.0.1");
    CHECK(*(*allocator)->Allocate("web", "db") == "10.201.0.2");
    CHECK(*(*allocator)->Allocate("shop", "api") == "10.201.0.3");
  }
  {
    auto allocator = FileServiceAddressAllocator::Open(path, Cidr("10.201.0.0/16"));
    REQUIRE(allocator.ok());
    CHECK((*allocator)->Allocations().size() == 3);
    CHECK(*(*allocator)->Allocate("web", "db") == "10.201.0.2");
    REQUIRE((*allocator)->Release("web", "api").ok());
    REQUIRE((*allocator)->ReleaseDeployment("shop").ok());
  }
  auto allocator = FileServiceAddressAllocator::Open(path, Cidr("10.201.0.0/16"));
  REQUIRE(allocator.ok());
  CHECK((*allocator)->Allocations() ==
        std::map<std::string, std::string>{{"web/db", "10.201.0.2"}});
  CHECK_THAT(zlayer::testing::ReadFile(path), Catch::Contains(R"("web/db": "10.201.0.2")"));
}

TEST_CASE("A file that is not a service address allocation is refused as data loss") {
  zlayer::testing::TempDir dir;
  const char* bad[] = {
      "not json",
      R"({"subnets": {}})",
      R"({"services": {"web": "10.201.0.1"}})",
      R"({"services": {"web/api": "10.201.0.1/32"}})",
      R"({"services": {"web/api": 7}})",
  };
  for (const char* text : bad) {
    INFO(text);
    const std::string path = dir.Path("services.json");
    std::ofstream(path) << text;
    auto allocator = FileServiceAddressAllocator::Open(path, Cidr("10.201.0.0/16"));
    REQUIRE_FALSE(allocator.ok());
    CHECK(allocator.status().code() == StatusCode::kDataLoss);
  }
}

TEST_CASE("An address that cannot be written is not handed out") {
  zlayer::testing::TempDir dir;
  auto allocator =
      FileServiceAddressAllocator::Open(dir.Path("blocked/services.json"), Cidr("10.201.0.0/16"));
  REQUIRE(allocator.ok());
  // The parent "directory" becomes a file: the write fails.
  std::ofstream(dir.Path("blocked")) << "";
  auto address = (*allocator)->Allocate("web", "api");
  REQUIRE_FALSE(address.ok());
  CHECK_THAT(address.status().message(), Catch::StartsWith("service addresses: "));
  CHECK((*allocator)->Allocations().empty());
}
