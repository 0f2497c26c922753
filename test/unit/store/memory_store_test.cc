#include "agent/store/memory_store.h"

#include <catch2/catch.hpp>

using namespace zlayer::agent::store;
using zlayer::StatusCode;

TEST_CASE("The memory store can be made to fail like a full disk, changing nothing") {
  MemoryStore store;
  REQUIRE(store.Save({"web", 1, "a: 1\n", {}}).ok());
  store.set_error(zlayer::Status(StatusCode::kResourceExhausted, "disk full"));
  CHECK(store.Save({"web", 2, "a: 2\n", {}}).code() == StatusCode::kResourceExhausted);
  CHECK(store.Remove("web").code() == StatusCode::kResourceExhausted);
  CHECK_FALSE(store.LoadAll().ok());
  store.set_error(zlayer::Status::Ok());
  auto loaded = store.LoadAll();
  REQUIRE(loaded.ok());
  REQUIRE(loaded->deployments.size() == 1);
  CHECK(loaded->deployments[0].generation == 1);
  CHECK(store.saves() == 1);
  CHECK(store.removes() == 0);
}

TEST_CASE("The memory store reports injected load problems beside the good deployments") {
  MemoryStore store;
  REQUIRE(store.Save({"web", 1, "a: 1\n", {}}).ok());
  store.AddLoadProblem({"/x/db.json", zlayer::Status(StatusCode::kDataLoss, "parse error")});
  auto loaded = store.LoadAll();
  REQUIRE(loaded.ok());
  CHECK(loaded->deployments.size() == 1);
  REQUIRE(loaded->problems.size() == 1);
  CHECK(loaded->problems[0].path == "/x/db.json");
}
