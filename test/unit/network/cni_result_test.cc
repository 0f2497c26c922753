#include "agent/network/cni/cni_result.h"

#include <catch2/catch.hpp>

using zlayer::StatusCode;
using zlayer::agent::network::cni::CniError;
using zlayer::agent::network::cni::ErrorStatus;
using zlayer::agent::network::cni::ParseError;
using zlayer::agent::network::cni::ParseResult;

// As the bridge plugin of containernetworking-plugins 1.1.1 prints it.
constexpr const char* kBridgeResult = R"({
  "cniVersion": "1.0.0",
  "interfaces": [
    {"name": "zl-br3", "mac": "aa:bb:cc:00:00:01"},
    {"name": "veth1234", "mac": "aa:bb:cc:00:00:02"},
    {"name": "eth0", "mac": "aa:bb:cc:00:00:03", "sandbox": "/run/zlayer/netns/web-0"}
  ],
  "ips": [{"interface": 2, "address": "10.200.3.2/24", "gateway": "10.200.3.1"}],
  "routes": [{"dst": "0.0.0.0/0"}],
  "dns": {}
})";

TEST_CASE("An ADD result gives its interfaces, addresses and routes") {
  auto result = ParseResult(kBridgeResult);
  REQUIRE(result.ok());
  CHECK(result->cni_version == "1.0.0");
  REQUIRE(result->interfaces.size() == 3);
  CHECK(result->interfaces[2].name == "eth0");
  CHECK(result->interfaces[2].sandbox == "/run/zlayer/netns/web-0");
  REQUIRE(result->ips.size() == 1);
  CHECK(result->ips[0].address == "10.200.3.2/24");
  CHECK(result->ips[0].gateway == "10.200.3.1");
  CHECK(result->ips[0].interface == 2);
  REQUIRE(result->routes.size() == 1);
  CHECK(result->routes[0].dst == "0.0.0.0/0");
  CHECK(result->routes[0].gw.empty());
  CHECK(result->raw["dns"].is_object());
}

TEST_CASE("The address of an interface is the first IP on it inside the sandbox") {
  auto result = ParseResult(kBridgeResult);
  REQUIRE(result.ok());
  CHECK(result->AddressOf("eth0") == "10.200.3.2");
  CHECK(result->AddressOf("zl-br3").empty());  // on the host
  CHECK(result->AddressOf("eth1").empty());
}

TEST_CASE("A result that is not what the spec describes is an invalid-argument error") {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"not json", "not a JSON object"},
      {"[]", "not a JSON object"},
      {R"({"ips": {}})", "ips: not an array"},
      {R"({"ips": [{"gateway": "10.0.0.1"}]})", "ips[].address: missing"},
      {R"({"ips": [{"address": "10.0.0.2/24", "interface": "eth0"}]})", "not an integer"},
      {R"({"interfaces": [{"name": 3}]})", "interfaces[].name: not a string"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto result = ParseResult(c.text);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(result.status().message(), Catch::Contains(c.message));
  }
}

TEST_CASE("A plugin's error object is read with its code, message and details") {
  auto error = ParseError(
      R"({"cniVersion":"1.0.0","code":7,"msg":"invalid config","details":"no bridge name"})");
  REQUIRE(error.has_value());
  CHECK(error->code == 7);
  CHECK(error->msg == "invalid config");
  CHECK(error->details == "no bridge name");
  CHECK_FALSE(ParseError("panic: runtime error").has_value());
  CHECK_FALSE(ParseError(R"({"cniVersion":"1.0.0"})").has_value());
}

TEST_CASE("A plugin's error becomes a status naming plugin, command and container") {
  struct Case {
    int code;
    const char* details;
    StatusCode status;
    const char* message;
  };
  const Case cases[] = {
      {11, "", StatusCode::kUnavailable, "cni bridge ADD for web-0: boom (code 11)"},
      {7, "bad subnet", StatusCode::kInvalidArgument,
       "cni bridge ADD for web-0: boom; bad subnet (code 7)"},
      {3, "", StatusCode::kNotFound, "cni bridge ADD for web-0: boom (code 3)"},
      {5, "", StatusCode::kInternal, "cni bridge ADD for web-0: boom (code 5)"},
      {999, "", StatusCode::kInternal, "cni bridge ADD for web-0: boom (code 999)"},
  };
  for (const Case& c : cases) {
    INFO(c.code);
    auto status = ErrorStatus("bridge", "ADD", "web-0", CniError{c.code, "boom", c.details});
    CHECK(status.code() == c.status);
    CHECK(status.message() == c.message);
  }
}
