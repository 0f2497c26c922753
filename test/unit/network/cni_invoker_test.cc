#include "agent/network/cni/cni_invoker.h"

#include <catch2/catch.hpp>
#include <deque>
#include <functional>
#include <optional>

using nlohmann::json;
using zlayer::ProcessCallback;
using zlayer::ProcessRequest;
using zlayer::ProcessResult;
using zlayer::ProcessRunner;
using zlayer::Result;
using zlayer::Status;
using zlayer::StatusCode;
using namespace zlayer::agent::network::cni;

namespace {

// Records every request and answers with `respond`, later, when Drain() runs the
// pending callbacks (never inside Run, like the real runner).
class FakeRunner : public ProcessRunner {
 public:
  std::function<Result<ProcessResult>(const ProcessRequest&)> respond;
  std::vector<ProcessRequest> requests;

  void Run(ProcessRequest request, ProcessCallback done) override {
    requests.push_back(request);
    pending_.emplace_back([this, request, done = std::move(done)] { done(respond(request)); });
  }
  void Drain() {
    while (!pending_.empty()) {
      auto next = std::move(pending_.front());
      pending_.pop_front();
      next();
    }
  }

 private:
  std::deque<std::function<void()>> pending_;
};

ProcessResult Exit(int code, std::string out, std::string err = "") {
  ProcessResult result;
  result.exit_code = code;
  result.stdout_data = std::move(out);
  result.stderr_data = std::move(err);
  return result;
}

std::string Type(const ProcessRequest& request) {
  return request.program.substr(request.program.rfind('/') + 1);
}

constexpr const char* kBridgeResult =
    R"({"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/zl/netns/web-0"}],)"
    R"("ips":[{"interface":0,"address":"10.200.3.2/24","gateway":"10.200.3.1"}]})";

NetworkList Web() {
  return BridgeNetworkList(BridgeNetwork{
      .name = "zl-web", .bridge = "zl-br3", .subnet = "10.200.3.0/24", .ipam_data_dir = "/d/ipam"});
}

const Attachment kWeb0{.container_id = "web-0", .netns = "/run/zl/netns/web-0", .ifname = "eth0"};

}  // namespace

TEST_CASE(
    "Given a bridge list, ADD runs bridge then firewall with the spec's environment and "
    "the bridge result as the firewall's prevResult") {
  FakeRunner runner;
  runner.respond = [](const ProcessRequest& request) -> Result<ProcessResult> {
    if (Type(request) == "bridge") return Exit(0, kBridgeResult);
    // firewall passes prevResult through
    return Exit(0, json::parse(request.stdin_data)["prevResult"].dump());
  };
  Invoker invoker(runner, InvokerOptions{.plugin_dirs = {"/usr/lib/cni"}});
  std::optional<Result<CniResult>> outcome;
  invoker.Add(Web(), kWeb0, [&](Result<CniResult> r) { outcome = std::move(r); });
  runner.Drain();

  REQUIRE(outcome.has_value());
  REQUIRE(outcome->ok());
  CHECK((*outcome)->AddressOf("eth0") == "10.200.3.2");
  REQUIRE(runner.requests.size() == 2);
  const ProcessRequest& bridge = runner.requests[0];
  CHECK(bridge.program == "/usr/lib/cni/bridge");
  CHECK(bridge.env.at("CNI_COMMAND") == "ADD");
  CHECK(bridge.env.at("CNI_CONTAINERID") == "web-0");
  CHECK(bridge.env.at("CNI_NETNS") == "/run/zl/netns/web-0");
  CHECK(bridge.env.at("CNI_IFNAME") == "eth0");
  CHECK(bridge.env.at("CNI_PATH") == "/usr/lib/cni");
  CHECK(bridge.env.count("PATH") == 1);
  json bridge_input = json::parse(bridge.stdin_data);
  CHECK(bridge_input["cniVersion"] == "1.0.0");
  CHECK(bridge_input["name"] == "zl-web");
  CHECK_FALSE(bridge_input.contains("prevResult"));
  json firewall_input = json::parse(runner.requests[1].stdin_data);
  CHECK(Type(runner.requests[1]) == "firewall");
  CHECK(firewall_input["prevResult"] == json::parse(kBridgeResult));
}

TEST_CASE(
    "DEL runs the plugins in reverse order with the ADD result, and all of them even when "
    "one fails") {
  FakeRunner runner;
  runner.respond = [](const ProcessRequest& request) -> Result<ProcessResult> {
    if (Type(request) == "firewall") {
      return Exit(1, R"({"cniVersion":"1.0.0","code":5,"msg":"iptables failed"})");
    }
    return Exit(0, "");
  };
  Invoker invoker(runner);
  std::optional<Status> outcome;
  invoker.Del(Web(), kWeb0, json::parse(kBridgeResult), [&](Status s) { outcome = s; });
  runner.Drain();

  REQUIRE(runner.requests.size() == 2);
  CHECK(Type(runner.requests[0]) == "firewall");
  CHECK(Type(runner.requests[1]) == "bridge");
  for (const auto& request : runner.requests) {
    CHECK(request.env.at("CNI_COMMAND") == "DEL");
    CHECK(json::parse(request.stdin_data)["prevResult"] == json::parse(kBridgeResult));
  }
  REQUIRE(outcome.has_value());
  CHECK(outcome->code() == StatusCode::kInternal);
  CHECK(outcome->message() == "cni firewall DEL for web-0: iptables failed (code 5)");
}

TEST_CASE("DEL without an ADD result sends no prevResult") {
  FakeRunner runner;
  runner.respond = [](const ProcessRequest&) -> Result<ProcessResult> { return Exit(0, ""); };
  Invoker invoker(runner);
  std::optional<Status> outcome;
  invoker.Del(Web(), kWeb0, json(), [&](Status s) { outcome = s; });
  runner.Drain();
  REQUIRE(outcome.has_value());
  CHECK(outcome->ok());
  for (const auto& request : runner.requests) {
    CHECK_FALSE(json::parse(request.stdin_data).contains("prevResult"));
  }
}

TEST_CASE("CHECK runs the plugins in order with the ADD result and stops at the first error") {
  FakeRunner runner;
  runner.respond = [](const ProcessRequest&) -> Result<ProcessResult> {
    return Exit(1, R"({"cniVersion":"1.0.0","code":999,"msg":"eth0 has no address"})");
  };
  Invoker invoker(runner);
  std::optional<Status> outcome;
  invoker.Check(Web(), kWeb0, json::parse(kBridgeResult), [&](Status s) { outcome = s; });
  runner.Drain();
  REQUIRE(runner.requests.size() == 1);
  CHECK(runner.requests[0].env.at("CNI_COMMAND") == "CHECK");
  CHECK(json::parse(runner.requests[0].stdin_data)["prevResult"] == json::parse(kBridgeResult));
  REQUIRE(outcome.has_value());
  CHECK(outcome->message() == "cni bridge CHECK for web-0: eth0 has no address (code 999)");
}

TEST_CASE("A failing ADD reports the plugin's error and runs no later plugin") {
  FakeRunner runner;
  runner.respond = [](const ProcessRequest&) -> Result<ProcessResult> {
    return Exit(
        1, R"({"cniVersion":"1.0.0","code":11,"msg":"failed to allocate","details":"range full"})");
  };
  Invoker invoker(runner);
  std::optional<Result<CniResult>> outcome;
  invoker.Add(Web(), kWeb0, [&](Result<CniResult> r) { outcome = std::move(r); });
  runner.Drain();
  CHECK(runner.requests.size() == 1);
  REQUIRE(outcome.has_value());
  REQUIRE_FALSE(outcome->ok());
  CHECK(outcome->status().code() == StatusCode::kUnavailable);
  CHECK(outcome->status().message() ==
        "cni bridge ADD for web-0: failed to allocate; range full (code 11)");
}

TEST_CASE(
    "A plugin that fails without an error object is reported with its exit status and "
    "stderr") {
  FakeRunner runner;
  runner.respond = [](const ProcessRequest&) -> Result<ProcessResult> {
    return Exit(2, "", "panic: oops\n");
  };
  Invoker invoker(runner);
  std::optional<Result<CniResult>> outcome;
  invoker.Add(LoopbackNetworkList(), kWeb0, [&](Result<CniResult> r) { outcome = std::move(r); });
  runner.Drain();
  REQUIRE(outcome.has_value());
  REQUIRE_FALSE(outcome->ok());
  CHECK(outcome->status().message() == "cni loopback ADD for web-0: exit status 2: panic: oops");
}

TEST_CASE("A plugin missing from the first directory is looked for in the next") {
  FakeRunner runner;
  runner.respond = [](const ProcessRequest& request) -> Result<ProcessResult> {
    if (request.program.rfind("/opt/cni/bin/", 0) == 0) {
      return zlayer::NotFoundError("run " + request.program + ": No such file or directory");
    }
    return Exit(0, R"({"cniVersion":"1.0.0"})");
  };
  Invoker invoker(runner, InvokerOptions{.plugin_dirs = {"/opt/cni/bin", "/usr/lib/cni"}});
  std::optional<Result<CniResult>> outcome;
  invoker.Add(LoopbackNetworkList(), kWeb0, [&](Result<CniResult> r) { outcome = std::move(r); });
  runner.Drain();
  REQUIRE(outcome.has_value());
  CHECK(outcome->ok());
  REQUIRE(runner.requests.size() == 2);
  CHECK(runner.requests[1].program == "/usr/lib/cni/loopback");
  CHECK(runner.requests[1].env.at("CNI_PATH") == "/opt/cni/bin:/usr/lib/cni");
}

TEST_CASE("A plugin found in no directory is an error naming the plugin and the container") {
  FakeRunner runner;
  runner.respond = [](const ProcessRequest& request) -> Result<ProcessResult> {
    return zlayer::NotFoundError("run " + request.program + ": No such file or directory");
  };
  Invoker invoker(runner);
  std::optional<Result<CniResult>> outcome;
  invoker.Add(LoopbackNetworkList(), kWeb0, [&](Result<CniResult> r) { outcome = std::move(r); });
  runner.Drain();
  REQUIRE(outcome.has_value());
  REQUIRE_FALSE(outcome->ok());
  CHECK(outcome->status().code() == StatusCode::kNotFound);
  CHECK_THAT(outcome->status().message(),
             Catch::StartsWith("cni loopback ADD for web-0: run /usr/lib/cni/loopback"));
}
