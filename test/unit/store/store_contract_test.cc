// The DesiredStateStore contract, checked against FileStore and MemoryStore
// alike, so the fake callers test against behaves like the real thing.
#include <catch2/catch.hpp>

#include "agent/store/file_store.h"
#include "agent/store/memory_store.h"
#include "test/support/files.h"
#include "test/support/temp_dir.h"

using namespace std::chrono;
using namespace zlayer::agent::store;
using zlayer::StatusCode;

namespace {

struct OnDisk {
  OnDisk() {
    auto opened = FileStore::Open(dir / "data");
    REQUIRE(opened.ok());
    file_store = std::move(*opened);
  }
  DesiredStateStore& store() { return *file_store; }

  zlayer::testing::TempDir dir;
  std::unique_ptr<FileStore> file_store;
};

struct InMemory {
  MemoryStore memory;
  DesiredStateStore& store() { return memory; }
};

StoredDeployment Deployment(std::string name, uint64_t generation, std::string spec = "") {
  if (spec.empty()) spec = "deployment: " + name + "\nservices: {}\n";
  return StoredDeployment{std::move(name), generation, std::move(spec),
                          system_clock::time_point(seconds(1'800'000'000) + nanoseconds(42))};
}

std::vector<StoredDeployment> LoadGood(DesiredStateStore& store) {
  auto loaded = store.LoadAll();
  REQUIRE(loaded.ok());
  CHECK(loaded->problems.empty());
  return loaded->deployments;
}

}  // namespace

TEMPLATE_TEST_CASE("Saved deployments load back unchanged, sorted by name", "", OnDisk, InMemory) {
  TestType fixture;
  auto& store = fixture.store();
  auto web = Deployment("web", 3, "deployment: web\n# ünïcode and \"quotes\"\n\tservices: {}\n");
  auto api = Deployment("api", 1);
  REQUIRE(store.Save(web).ok());
  REQUIRE(store.Save(api).ok());
  CHECK(LoadGood(store) == std::vector<StoredDeployment>{api, web});
}

TEMPLATE_TEST_CASE("An empty store loads nothing", "", OnDisk, InMemory) {
  TestType fixture;
  CHECK(LoadGood(fixture.store()).empty());
}

TEMPLATE_TEST_CASE("Saving a higher generation replaces the stored deployment", "", OnDisk,
                   InMemory) {
  TestType fixture;
  auto& store = fixture.store();
  REQUIRE(store.Save(Deployment("web", 1, "old: 1\n")).ok());
  auto newer = Deployment("web", 2, "new: 2\n");
  REQUIRE(store.Save(newer).ok());
  CHECK(LoadGood(store) == std::vector<StoredDeployment>{newer});
}

TEMPLATE_TEST_CASE("Saving the same generation again is accepted, a lower one is refused", "",
                   OnDisk, InMemory) {
  TestType fixture;
  auto& store = fixture.store();
  auto current = Deployment("web", 5);
  REQUIRE(store.Save(current).ok());
  CHECK(store.Save(current).ok());
  auto stale = store.Save(Deployment("web", 4, "stale: true\n"));
  CHECK(stale.code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(stale.message(), Catch::Contains("generation 4 is older than the stored 5"));
  CHECK(LoadGood(store) == std::vector<StoredDeployment>{current});
}

TEMPLATE_TEST_CASE("A removed deployment is gone and may start over at any generation", "", OnDisk,
                   InMemory) {
  TestType fixture;
  auto& store = fixture.store();
  REQUIRE(store.Save(Deployment("web", 7)).ok());
  REQUIRE(store.Save(Deployment("api", 1)).ok());
  REQUIRE(store.Remove("web").ok());
  CHECK(LoadGood(store) == std::vector<StoredDeployment>{Deployment("api", 1)});
  CHECK(store.Save(Deployment("web", 1)).ok());
}

TEMPLATE_TEST_CASE("Removing a deployment that is not stored is not found", "", OnDisk, InMemory) {
  TestType fixture;
  auto s = fixture.store().Remove("ghost");
  CHECK(s.code() == StatusCode::kNotFound);
  CHECK_THAT(s.message(), Catch::Contains("ghost"));
}

TEMPLATE_TEST_CASE("Names outside the spec's rule are refused before anything is stored", "",
                   OnDisk, InMemory) {
  TestType fixture;
  auto& store = fixture.store();
  for (std::string name : std::vector<std::string>{"", "Web", "-web", "web_1", "a/b", "..",
                                                   ".hidden", "web.json", std::string(64, 'a')}) {
    CAPTURE(name);
    CHECK(store.Save(Deployment(name, 1, "x: 1\n")).code() == StatusCode::kInvalidArgument);
    CHECK(store.Remove(name).code() == StatusCode::kInvalidArgument);
  }
  CHECK(store.Save(Deployment(std::string(63, 'a'), 1)).ok());
  CHECK(store.Save(Deployment("0-a-9", 1)).ok());
}

TEMPLATE_TEST_CASE("A spec that is not UTF-8 is refused", "", OnDisk, InMemory) {
  TestType fixture;
  auto s = fixture.store().Save(Deployment("web", 1, "name: \xFF\xFE\n"));
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(LoadGood(fixture.store()).empty());
}
