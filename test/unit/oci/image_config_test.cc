#include "agent/oci/image_config.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

using zlayer::StatusCode;
using zlayer::oci::ImageConfig;
using zlayer::oci::ParseImageConfig;
using Strings = std::vector<std::string>;

namespace {

std::string ReadTestData(const std::string& name) {
  std::ifstream in(std::string(ZLAYER_SOURCE_DIR) + "/test/testdata/images/" + name);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

const char* kDiffId = "sha256:883955fa3d8f70d4cd96477b498ee1175408b92a8d2ed24b4eddc739a75262e3";

// A minimal valid config with `config_body` as the nested run config.
std::string WithRunConfig(const std::string& config_body) {
  return std::string(R"({"os":"linux","architecture":"amd64","config":)") + config_body +
         R"(,"rootfs":{"type":"layers","diff_ids":[")" + kDiffId + R"("]}})";
}

}  // namespace

TEST_CASE("An OCI config written by umoci yields every run setting and the diff ids") {
  auto config = ParseImageConfig(ReadTestData("oci-config-umoci.json"));
  REQUIRE(config.ok());
  CHECK(config->os == "linux");
  CHECK(config->architecture == "amd64");
  CHECK(config->entrypoint == Strings{"/bin/busybox"});
  CHECK(config->cmd == Strings{"httpd", "-f"});
  CHECK(config->env == Strings{"PATH=/bin"});
  CHECK(config->working_dir == "/www");
  CHECK(config->user == "1000:1000");
  CHECK(config->stop_signal == "SIGQUIT");
  CHECK(config->labels.at("org.opencontainers.image.title") == "busybox");
  CHECK(config->exposed_ports == Strings{"8080/tcp"});
  CHECK(config->diff_ids == Strings{kDiffId});
}

TEST_CASE("A Docker config reads the nested config, not container_config, and nulls are absent") {
  auto config = ParseImageConfig(ReadTestData("docker-config-nginx.json"));
  REQUIRE(config.ok());
  CHECK(config->entrypoint == Strings{"/docker-entrypoint.sh"});
  CHECK(config->cmd == Strings{"nginx", "-g", "daemon off;"});
  CHECK(config->env.size() == 4);
  CHECK(config->env.front() == "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  CHECK(config->working_dir.empty());
  CHECK(config->user.empty());
  CHECK(config->stop_signal == "SIGQUIT");
  CHECK(config->labels.at("maintainer") == "NGINX Docker Maintainers <docker-maint@nginx.com>");
  CHECK(config->exposed_ports == Strings{"80/tcp"});
  CHECK(config->volumes.empty());
  CHECK(config->diff_ids.size() == 3);
}

TEST_CASE("An absent or null Entrypoint stays absent while an empty one stays empty") {
  auto absent = ParseImageConfig(WithRunConfig(R"({"Cmd":["sh"]})"));
  REQUIRE(absent.ok());
  CHECK_FALSE(absent->entrypoint.has_value());

  auto null = ParseImageConfig(WithRunConfig(R"({"Entrypoint":null,"Cmd":null})"));
  REQUIRE(null.ok());
  CHECK_FALSE(null->entrypoint.has_value());
  CHECK_FALSE(null->cmd.has_value());

  auto empty = ParseImageConfig(WithRunConfig(R"({"Entrypoint":[],"Cmd":[]})"));
  REQUIRE(empty.ok());
  REQUIRE(empty->entrypoint.has_value());
  CHECK(empty->entrypoint->empty());
  REQUIRE(empty->cmd.has_value());
  CHECK(empty->cmd->empty());
}

TEST_CASE("A config without a run config object is a valid image with nothing to run") {
  auto config =
      ParseImageConfig(std::string(R"({"os":"linux","architecture":"arm","variant":"v7",)") +
                       R"("rootfs":{"type":"layers","diff_ids":[]}})");
  REQUIRE(config.ok());
  CHECK(config->variant == "v7");
  CHECK_FALSE(config->entrypoint.has_value());
  CHECK(config->env.empty());
  CHECK(config->diff_ids.empty());
}

TEST_CASE("Exposed ports and volumes come out sorted") {
  auto config = ParseImageConfig(WithRunConfig(
      R"({"ExposedPorts":{"9090/udp":{},"443/tcp":{}},"Volumes":{"/var/lib":{},"/data":{}}})"));
  REQUIRE(config.ok());
  CHECK(config->exposed_ports == Strings{"443/tcp", "9090/udp"});
  CHECK(config->volumes == Strings{"/data", "/var/lib"});
}

TEST_CASE("Each malformed config is rejected with a message that names the field") {
  struct Case {
    std::string json;
    std::string field;
  };
  const std::string rootfs =
      std::string(R"("rootfs":{"type":"layers","diff_ids":[")") + kDiffId + R"("]})";
  const Case cases[] = {
      {"not json", "not valid JSON"},
      {"[1,2]", "expected a JSON object"},
      {R"({"architecture":"amd64",)" + rootfs + "}", "os: missing"},
      {R"({"os":"linux",)" + rootfs + "}", "architecture: missing"},
      {R"({"os":7,"architecture":"amd64",)" + rootfs + "}", "os: expected a string"},
      {R"({"os":"linux","architecture":"amd64"})", "rootfs: missing"},
      {R"({"os":"linux","architecture":"amd64","rootfs":{"type":"other","diff_ids":[]}})",
       "rootfs.type"},
      {R"({"os":"linux","architecture":"amd64","rootfs":{"type":"layers"}})",
       "rootfs.diff_ids: missing"},
      {R"({"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":["sha256:abc"]}})",
       "rootfs.diff_ids[0]"},
      {WithRunConfig("[]"), "config: expected an object"},
      {WithRunConfig(R"({"Entrypoint":"/bin/sh"})"), "config.Entrypoint: expected an array"},
      {WithRunConfig(R"({"Cmd":["sh",1]})"), "config.Cmd: expected an array"},
      {WithRunConfig(R"({"Env":{"A":"B"}})"), "config.Env: expected an array"},
      {WithRunConfig(R"({"WorkingDir":5})"), "config.WorkingDir: expected a string"},
      {WithRunConfig(R"({"User":0})"), "config.User: expected a string"},
      {WithRunConfig(R"({"StopSignal":15})"), "config.StopSignal: expected a string"},
      {WithRunConfig(R"({"Labels":{"a":1}})"), "config.Labels.a: expected a string"},
      {WithRunConfig(R"({"ExposedPorts":["80/tcp"]})"), "config.ExposedPorts: expected an object"},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    auto config = ParseImageConfig(c.json);
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(config.status().message(), Catch::Contains("image config: " + c.field));
  }
}
