#include "agent/exec/process_spec.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <regex>

using namespace zlayer;
using namespace zlayer::agent::exec;

TEST_CASE("An exec process keeps the container's user, env and cwd and runs the given args") {
  const std::string spec = R"({"ociVersion":"1.0.2","process":{"terminal":false,
    "user":{"uid":1000,"gid":1000},"args":["/bin/httpd","-f"],"env":["PATH=/bin","A=b"],
    "cwd":"/www","consoleSize":{"height":1,"width":2}},"root":{"path":"rootfs"}})";
  auto json = ExecProcessJson(spec, {"sh", "-c", "exit 3"}, /*terminal=*/true);
  REQUIRE(json.ok());
  auto process = nlohmann::json::parse(*json);
  CHECK(process["args"] == nlohmann::json({"sh", "-c", "exit 3"}));
  CHECK(process["terminal"] == true);
  CHECK(process["user"]["uid"] == 1000);
  CHECK(process["env"] == nlohmann::json({"PATH=/bin", "A=b"}));
  CHECK(process["cwd"] == "/www");
  CHECK_FALSE(process.contains("consoleSize"));
}

TEST_CASE("An exec needs args and a container spec with a process") {
  CHECK(ExecProcessJson(R"({"process":{}})", {}, false).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(ExecProcessJson("not json", {"sh"}, false).status().code() == StatusCode::kInvalidArgument);
  CHECK(ExecProcessJson(R"({"root":{}})", {"sh"}, false).status().code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("Exec ids are fresh containerd identifiers") {
  const std::string a = NewExecId(), b = NewExecId();
  CHECK(a != b);
  CHECK(std::regex_match(a, std::regex("exec-[0-9a-f]{16}")));
}
