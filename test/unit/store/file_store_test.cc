#include "agent/store/file_store.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "test/support/files.h"
#include "test/support/temp_dir.h"

using namespace std::chrono;
using namespace zlayer::agent::store;
using zlayer::StatusCode;
using zlayer::testing::ReadFile;
using zlayer::testing::TempDir;
using zlayer::testing::WriteFile;

namespace {

std::unique_ptr<FileStore> OpenStore(const TempDir& dir) {
  auto store = FileStore::Open(dir / "data");
  REQUIRE(store.ok());
  return std::move(*store);
}

StoredDeployment Deployment(std::string name, uint64_t generation) {
  return StoredDeployment{name, generation, "deployment: " + name + "\n",
                          system_clock::time_point(seconds(1'800'000'000))};
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("Each deployment is one readable JSON file named after it") {
  TempDir dir;
  auto store = OpenStore(dir);
  REQUIRE(store->Save(Deployment("web", 4)).ok());
  CHECK(store->deployments_dir() == dir / "data/deployments");
  CHECK(FilesIn(store->deployments_dir()) == std::vector<std::string>{"web.json"});
  auto json = nlohmann::json::parse(ReadFile(store->PathOf("web")));
  CHECK(json["format"] == 1);
  CHECK(json["name"] == "web");
  CHECK(json["generation"] == 4);
  CHECK(json["spec_yaml"] == "deployment: web\n");
  CHECK(json["applied_at"] == "2027-01-15T08:00:00.000000000Z");
}

TEST_CASE("What one agent saved, the next agent on the same directory loads") {
  TempDir dir;
  REQUIRE(OpenStore(dir)->Save(Deployment("web", 2)).ok());
  auto loaded = OpenStore(dir)->LoadAll();
  REQUIRE(loaded.ok());
  CHECK(loaded->deployments == std::vector<StoredDeployment>{Deployment("web", 2)});
}

TEST_CASE("A corrupt or half-written file is reported with its path while the others load") {
  TempDir dir;
  auto store = OpenStore(dir);
  REQUIRE(store->Save(Deployment("api", 1)).ok());
  REQUIRE(store->Save(Deployment("web", 1)).ok());
  std::string whole = ReadFile(store->PathOf("web"));
  WriteFile(store->PathOf("web"), whole.substr(0, whole.size() / 2));  // torn
  WriteFile(store->PathOf("db"), "\x01\x02 not json");
  WriteFile(store->PathOf("cache"), R"({"format":1,"name":"cache","generation":-1,)"
                                    R"("spec_yaml":"x","applied_at":"2026-01-01T00:00:00Z"})");

  auto loaded = store->LoadAll();
  REQUIRE(loaded.ok());
  CHECK(loaded->deployments == std::vector<StoredDeployment>{Deployment("api", 1)});
  REQUIRE(loaded->problems.size() == 3);
  CHECK(loaded->problems[0].path == store->PathOf("cache"));
  CHECK_THAT(loaded->problems[0].status.message(), Catch::Contains("\"generation\""));
  CHECK(loaded->problems[1].path == store->PathOf("db"));
  CHECK(loaded->problems[2].path == store->PathOf("web"));
  CHECK_THAT(loaded->problems[2].status.message(), Catch::Contains("parse error"));
  for (const auto& p : loaded->problems) CHECK(p.status.code() == StatusCode::kDataLoss);
}

TEST_CASE("A file whose content names another deployment is a problem, not a load") {
  TempDir dir;
  auto store = OpenStore(dir);
  REQUIRE(store->Save(Deployment("web", 1)).ok());
  std::filesystem::copy_file(store->PathOf("web"), store->PathOf("api"));
  auto loaded = store->LoadAll();
  REQUIRE(loaded.ok());
  CHECK(loaded->deployments.size() == 1);
  REQUIRE(loaded->problems.size() == 1);
  CHECK_THAT(loaded->problems[0].status.message(),
             Catch::Contains("holds deployment \"web\", not \"api\""));
}

TEST_CASE("A temporary file left by a crash during Save is ignored and cleaned up") {
  TempDir dir;
  auto store = OpenStore(dir);
  REQUIRE(store->Save(Deployment("web", 1)).ok());
  // What a crash between write and rename leaves: the old file is intact.
  WriteFile(store->deployments_dir() + "/.web.json.a1B2c3.tmp", "{\"format\":1,\"na");
  auto loaded = store->LoadAll();
  REQUIRE(loaded.ok());
  CHECK(loaded->deployments == std::vector<StoredDeployment>{Deployment("web", 1)});
  CHECK(loaded->problems.empty());
  CHECK(FilesIn(store->deployments_dir()) == std::vector<std::string>{"web.json"});
}

TEST_CASE("Save leaves no temporary file behind") {
  TempDir dir;
  auto store = OpenStore(dir);
  for (uint64_t g = 1; g <= 3; ++g) REQUIRE(store->Save(Deployment("web", g)).ok());
  CHECK(FilesIn(store->deployments_dir()) == std::vector<std::string>{"web.json"});
}

TEST_CASE("A corrupt stored file does not block the Save that replaces it") {
  TempDir dir;
  auto store = OpenStore(dir);
  WriteFile(store->PathOf("web"), "{garbage");
  REQUIRE(store->Save(Deployment("web", 1)).ok());
  auto loaded = store->LoadAll();
  REQUIRE(loaded.ok());
  CHECK(loaded->deployments == std::vector<StoredDeployment>{Deployment("web", 1)});
}

TEST_CASE("Files that are not deployments are left alone") {
  TempDir dir;
  auto store = OpenStore(dir);
  WriteFile(store->deployments_dir() + "/README", "notes");
  WriteFile(store->deployments_dir() + "/.hidden.json", "{}");
  auto loaded = store->LoadAll();
  REQUIRE(loaded.ok());
  CHECK(loaded->deployments.empty());
  CHECK(loaded->problems.empty());
  CHECK(FilesIn(store->deployments_dir()) == std::vector<std::string>{".hidden.json", "README"});
}

TEST_CASE("Saving into a deployments directory that vanished fails with its path") {
  TempDir dir;
  auto store = OpenStore(dir);
  std::filesystem::remove_all(store->deployments_dir());
  auto s = store->Save(Deployment("web", 1));
  CHECK(s.code() == StatusCode::kNotFound);
  CHECK_THAT(s.message(), Catch::Contains(store->deployments_dir()));
  CHECK_FALSE(store->LoadAll().ok());
}

TEST_CASE("Opening a store where a file blocks the directory fails clearly") {
  TempDir dir;
  WriteFile(dir / "data", "");
  auto store = FileStore::Open(dir / "data");
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(store.status().message(), Catch::Contains(dir / "data"));
}
