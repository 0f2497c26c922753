#include "agent/spec/serialize.h"

#include <catch2/catch.hpp>
#include <functional>
#include <nlohmann/json.hpp>

#include "spec_test_util.h"

namespace zlayer::spec {
namespace {

using namespace std::chrono_literals;
using testing::ParseValid;

Service ExampleWeb() { return ParseValid("valid/spec_v1_example.yaml").services.at("web"); }

TEST_CASE("A service's hash is 64 hex digits and the same for equal services") {
  std::string hash = ServiceHash(ExampleWeb());
  CHECK(hash.size() == 64);
  CHECK(hash.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(ServiceHash(ExampleWeb()) == hash);
}

TEST_CASE("The hash of the spec-v1.md example does not change between versions") {
  // If this fails, every replica on every node would be rolled on upgrade: make the new
  // field disappear from the JSON while it holds its default instead of updating the value.
  // Changed once on purpose: network_mode's default went from the node's network to
  // the deployment's own, so replicas made before must be replaced to get an address.
  CHECK(ServiceHash(ExampleWeb()) ==
        "7e707d1c6d298616e1333259eb0ef76993ec692db5468c207c97656d12dd29e0");
}

TEST_CASE("What goes into the container changes the hash") {
  const std::string base = ServiceHash(ExampleWeb());
  const std::function<void(Service&)> changes[] = {
      [](Service& s) { s.image.name = "127.0.0.1:5000/busybox:1.36"; },
      [](Service& s) { s.image.pull_policy = PullPolicy::kAlways; },
      [](Service& s) { s.command.args->push_back("-v"); },
      [](Service& s) { s.command.workdir = "/www"; },
      [](Service& s) { s.env["GREETING"] = "bonjour"; },
      [](Service& s) { s.resources.memory_bytes = 64 << 20; },
      [](Service& s) { s.storage.push_back(TmpfsMount{.target = "/tmp"}); },
      [](Service& s) { s.user = "1000"; },
      [](Service& s) { s.hostname = "www"; },
      [](Service& s) { s.labels["team"] = "web"; },
      [](Service& s) { s.privileged = true; },
      [](Service& s) { s.cap_add.push_back("CAP_NET_ADMIN"); },
      [](Service& s) { s.stop_signal = 2; },
      [](Service& s) { s.read_only_root_fs = true; },
      [](Service& s) {
        s.ulimits["nofile"] = Ulimit{1024, 1024};
      },
      [](Service& s) { s.endpoints[0].port = 8081; },
  };
  for (size_t i = 0; i < std::size(changes); ++i) {
    INFO("change " << i);
    Service changed = ExampleWeb();
    changes[i](changed);
    CHECK(ServiceHash(changed) != base);
  }
}

TEST_CASE(
    "What the agent applies to running replicas leaves the hash alone, so they are not "
    "rolled") {
  const std::string base = ServiceHash(ExampleWeb());
  const std::function<void(Service&)> changes[] = {
      [](Service& s) { s.scale.replicas = 5; },
      [](Service& s) { s.scale.mode = ScaleMode::kManual; },
      [](Service& s) { s.restart_policy.kind = RestartKind::kNo; },
      [](Service& s) { s.restart_policy.delay = 1s; },
      [](Service& s) { s.health->interval = 30s; },
      [](Service& s) { s.health.reset(); },
      [](Service& s) { s.depends.push_back(Dependency{.service = "db"}); },
      [](Service& s) { s.stop_grace_period = 1min; },
  };
  for (size_t i = 0; i < std::size(changes); ++i) {
    INFO("change " << i);
    Service changed = ExampleWeb();
    changes[i](changed);
    CHECK(ServiceHash(changed) == base);
  }
}

TEST_CASE("The deployment's JSON shows every default filled in, durations exactly") {
  Deployment deployment = ParseValid("valid/every_service_field.yaml");
  nlohmann::json json = nlohmann::json::parse(DeploymentToJson(deployment));
  CHECK(json["version"] == "v1");
  CHECK(json["deployment"] == "full");
  const nlohmann::json& api = json["services"]["api"];
  CHECK(api["restart_policy"]["delay"] == "250ms");
  CHECK(api["depends"][0]["timeout"] == "2m");
  CHECK(api["depends"][1]["timeout"] == "5m");
  CHECK(api["stop_signal"] == "SIGINT");
  CHECK(api["resources"]["memory"] == 512 * 1024 * 1024);
  CHECK(api["storage"][3]["mode"] == "1777");
  CHECK(api["ulimits"]["memlock"]["hard"] == "unlimited");
  const nlohmann::json& db = json["services"]["db"];
  CHECK(db["health"]["check"]["type"] == "tcp");
  CHECK(db["health"]["check"]["port"] == 5432);
  CHECK(db["stop_grace_period"] == "10s");
  CHECK(db["hostname"] == "db");
  CHECK_FALSE(db.contains("user"));  // absent stays absent
  CHECK(nlohmann::json::parse(ServiceToJson(deployment.services.at("db"))) == db);
}

}  // namespace
}  // namespace zlayer::spec
