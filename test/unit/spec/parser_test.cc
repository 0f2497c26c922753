// What a parsed spec holds: the model with its defaults, and the parser's behaviour at its
// edges (hostile YAML, huge inputs, unreadable files).
#include "agent/spec/parser.h"

#include <pthread.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <string>

#include "agent/spec/naming.h"
#include "spec_test_util.h"

namespace zlayer::spec {
namespace {

using namespace std::chrono_literals;
using testing::ParseValid;
using testing::TestEnvironment;

TEST_CASE("The example of spec-v1.md parses into the model it describes") {
  Deployment deployment = ParseValid("valid/spec_v1_example.yaml");
  CHECK(deployment.version == "v1");
  CHECK(deployment.name == "hello");
  REQUIRE(deployment.services.size() == 1);
  const Service& web = deployment.services.at("web");
  CHECK(web.name == "web");
  CHECK(web.image.name == "127.0.0.1:5000/busybox:latest");
  CHECK(web.image.pull_policy == PullPolicy::kIfNotPresent);
  CHECK(web.command.entrypoint == std::vector<std::string>{"/bin/httpd"});
  CHECK(web.command.args == std::vector<std::string>{"-f", "-p", "8080", "-h", "/www"});
  CHECK_FALSE(web.command.workdir.has_value());
  CHECK(web.env == std::map<std::string, std::string>{{"GREETING", "hello"}});
  CHECK(web.scale.mode == ScaleMode::kFixed);
  CHECK(web.scale.replicas == 1);
  REQUIRE(web.endpoints.size() == 1);
  CHECK(web.endpoints[0].name == "http");
  CHECK(web.endpoints[0].protocol == Protocol::kHttp);
  CHECK(web.endpoints[0].port == 8080);
  CHECK(web.endpoints[0].target_port == 8080);
  CHECK(web.endpoints[0].expose == Exposure::kInternal);
  REQUIRE(web.health.has_value());
  CHECK(web.health->start_grace == 1s);
  CHECK(web.health->interval == 2s);
  CHECK(web.health->timeout == 5s);
  CHECK(web.health->retries == 3);
  CHECK(web.health->check.type == HealthCheckType::kHttp);
  CHECK(web.health->check.url == "http://127.0.0.1:8080/");
  CHECK(web.health->check.expect_status == 200);
  CHECK(web.restart_policy.kind == RestartKind::kAlways);
}

TEST_CASE("A service given only its image takes every default of spec-v1.md") {
  Service app = ParseValid("valid/minimal_service.yaml").services.at("app");
  CHECK(app.rtype == ResourceType::kService);
  CHECK(app.image.pull_policy == PullPolicy::kIfNotPresent);
  CHECK_FALSE(app.command.entrypoint.has_value());
  CHECK_FALSE(app.command.args.has_value());
  CHECK(app.env.empty());
  CHECK_FALSE(app.resources.cpu.has_value());
  CHECK_FALSE(app.resources.memory_bytes.has_value());
  CHECK_FALSE(app.resources.pids_limit.has_value());
  CHECK(app.scale.mode == ScaleMode::kFixed);
  CHECK(app.scale.replicas == 1);
  CHECK_FALSE(app.health.has_value());  // nothing to check without an endpoint
  CHECK(app.restart_policy.kind == RestartKind::kAlways);
  CHECK(app.restart_policy.max_attempts == 0);
  CHECK(app.restart_policy.delay == 100ms);
  CHECK(app.hostname == "app");
  CHECK_FALSE(app.user.has_value());
  CHECK_FALSE(app.privileged);
  CHECK_FALSE(app.read_only_root_fs);
  CHECK_FALSE(app.stop_signal.has_value());
  CHECK(app.stop_grace_period == 10s);
  CHECK(app.network_mode == NetworkMode::kDefault);
}

TEST_CASE("A job restarts on failure unless its restart policy says otherwise") {
  Service job = ParseValid("valid/job.yaml").services.at("migrate");
  CHECK(job.rtype == ResourceType::kJob);
  CHECK(job.restart_policy.kind == RestartKind::kOnFailure);
}

TEST_CASE("Every field of a full service arrives typed in the model") {
  Deployment deployment = ParseValid("valid/every_service_field.yaml");
  const Service& api = deployment.services.at("api");
  CHECK(api.image.pull_policy == PullPolicy::kAlways);
  CHECK(api.command.workdir == "/srv");
  CHECK(api.env ==
        std::map<std::string, std::string>{
            {"PORT", "8080"}, {"DEBUG", "false"}, {"EMPTY", ""}, {"DB_PASSWORD", "s3cret"}});
  CHECK(api.resources.cpu == 1.5);
  CHECK(api.resources.memory_bytes == 512u * 1024 * 1024);
  CHECK(api.resources.pids_limit == 256);
  CHECK(api.scale.replicas == 1);
  REQUIRE(api.endpoints.size() == 2);
  CHECK(api.endpoints[0].port == 80);
  CHECK(api.endpoints[0].target_port == 8080);
  CHECK(api.endpoints[0].path == "/api");
  CHECK(api.endpoints[0].host == "api.example.com");
  CHECK(api.endpoints[0].expose == Exposure::kPublic);
  CHECK(api.endpoints[1].protocol == Protocol::kTcp);
  REQUIRE(api.health.has_value());
  CHECK(api.health->start_grace == 30s);
  CHECK(api.health->retries == 5);
  CHECK(api.health->check.expect_status == 204);
  CHECK(api.restart_policy.kind == RestartKind::kOnFailure);
  CHECK(api.restart_policy.max_attempts == 5);
  CHECK(api.restart_policy.delay == 250ms);
  REQUIRE(api.depends.size() == 2);
  CHECK(api.depends[0].service == "db");
  CHECK(api.depends[0].timeout == 2min);
  CHECK(api.depends[0].on_timeout == TimeoutAction::kWarn);
  CHECK(api.depends[1].condition == DependencyCondition::kStarted);
  CHECK(api.depends[1].timeout == 300s);
  CHECK(api.depends[1].on_timeout == TimeoutAction::kFail);
  REQUIRE(api.storage.size() == 4);
  const auto& bind = std::get<BindMount>(api.storage[0]);
  CHECK(bind.source == "/etc/api");
  CHECK(bind.readonly);
  CHECK(std::get<NamedVolume>(api.storage[1]).name == "api-data");
  CHECK_FALSE(std::get<NamedVolume>(api.storage[1]).readonly);
  CHECK(std::get<AnonymousVolume>(api.storage[2]).target == "/var/cache/api");
  const auto& tmpfs = std::get<TmpfsMount>(api.storage[3]);
  CHECK(tmpfs.size_bytes == 64u * 1024 * 1024);
  CHECK(tmpfs.mode == 01777u);
  CHECK(api.user == "1000:1000");
  CHECK(api.hostname == "api.internal");
  CHECK(api.labels.at("com.example.team") == "payments");
  CHECK(api.cap_add == std::vector<std::string>{"CAP_NET_BIND_SERVICE", "CAP_SYS_TIME"});
  CHECK(api.cap_drop == std::vector<std::string>{"ALL"});
  CHECK(api.stop_signal == SIGINT);
  CHECK(api.stop_grace_period == 30s);
  CHECK(api.read_only_root_fs);
  CHECK(api.ulimits.at("nofile").soft == 1024);
  CHECK(api.ulimits.at("nofile").hard == 65536);
  CHECK(api.ulimits.at("memlock").soft == Ulimit::kUnlimited);
  CHECK(api.ulimits.at("memlock").hard == Ulimit::kUnlimited);

  const Service& cache = deployment.services.at("cache");
  REQUIRE(cache.health.has_value());
  CHECK(cache.health->check.type == HealthCheckType::kCommand);
  CHECK(cache.health->check.command == std::vector<std::string>{"redis-cli", "ping"});
}

TEST_CASE("A health check without a port probes the first endpoint a tcp connect can reach") {
  Deployment deployment = ParseValid("valid/health_defaults.yaml");
  // No health section: a tcp check on the target port of the first non-udp endpoint.
  const Service& implicit = deployment.services.at("implicit");
  REQUIRE(implicit.health.has_value());
  CHECK(implicit.health->check.type == HealthCheckType::kTcp);
  CHECK(implicit.health->check.port == 8080);
  CHECK(implicit.health->interval == 10s);
  CHECK(implicit.health->start_grace == 5s);
  // A health section without a check keeps its timings and gets the default check.
  const Service& partial = deployment.services.at("partial");
  REQUIRE(partial.health.has_value());
  CHECK(partial.health->interval == 1s);
  CHECK(partial.health->check.port == 7000);
  // Only udp endpoints: nothing a tcp connect could check.
  CHECK_FALSE(deployment.services.at("udp-only").health.has_value());
}

TEST_CASE("A health command written as a string runs through /bin/sh -c") {
  Service shell = ParseValid("valid/health_defaults.yaml").services.at("shell");
  REQUIRE(shell.health.has_value());
  CHECK(shell.health->check.command ==
        std::vector<std::string>{"/bin/sh", "-c", "test -f /tmp/ready"});
}

TEST_CASE("Manual scaling starts from one replica and a fixed service may ask for none") {
  Deployment deployment = ParseValid("valid/scale_manual_and_zero.yaml");
  CHECK(deployment.services.at("worker").scale.mode == ScaleMode::kManual);
  CHECK(deployment.services.at("worker").scale.replicas == 1);
  CHECK(deployment.services.at("standby").scale.replicas == 0);
}

TEST_CASE("Flow style, quotes and aliases read like block style") {
  Deployment deployment = ParseValid("valid/flow_style_and_anchors.yaml");
  CHECK(deployment.services.at("b").image.name == "busybox:1.36");
  CHECK(deployment.services.at("b").env.at("LEVEL") == "3");
}

TEST_CASE("$E:NAME takes the value from the environment passed in, not the process's") {
  const char* spec =
      "version: v1\n"
      "deployment: env\n"
      "services:\n"
      "  web:\n"
      "    image: {name: nginx}\n"
      "    env: {TOKEN: $E:ZLAYER_TEST_TOKEN}\n";
  ParseResult with = ParseSpec(spec, "env.yaml", {{"ZLAYER_TEST_TOKEN", "abc"}});
  REQUIRE(with.ok());
  CHECK(with.deployment->services.at("web").env.at("TOKEN") == "abc");

  ::setenv("ZLAYER_TEST_TOKEN", "from-process", 1);
  ParseResult without = ParseSpec(spec, "env.yaml", {});
  ::unsetenv("ZLAYER_TEST_TOKEN");
  REQUIRE(without.problems.size() == 1);
  CHECK(FormatProblem(without.problems[0]) ==
        "env.yaml:6:18: services.web.env.TOKEN: $E:ZLAYER_TEST_TOKEN: ZLAYER_TEST_TOKEN is not "
        "set in the environment");
}

TEST_CASE("Hostile or broken YAML gives problems, never an exception") {
  std::string deep(5000, '[');
  const std::string inputs[] = {
      "{",
      "[",
      ":",
      "- - -",
      "? [a]\n: b\n",
      "*undefined_alias",
      "a: &x [*x]\n",
      "!!binary AAAA",
      "\xff\xfe\x00garbage",
      std::string("version: v1\0deployment: x\n", 26),
      deep,
      "version: v1\ndeployment: d\nservices:\n  ? [complex, key]\n  : {image: {name: x}}\n",
      "version: v1\ndeployment: d\nservices:\n  web:\n    image: {name: x}\n    env: {? [a] : b}\n",
  };
  for (const std::string& input : inputs) {
    INFO(input.substr(0, 40));
    ParseResult result;
    REQUIRE_NOTHROW(result = ParseSpec(input, "bad.yaml", {}));
    CHECK_FALSE(result.ok());
    CHECK_FALSE(result.deployment.has_value());
  }
}

TEST_CASE("A spec over 1 MiB is refused before it is parsed, at the first byte beyond") {
  std::string huge = "version: v1\n# " + std::string(kMaxSpecBytes, 'x') + "\n";
  ParseResult result = ParseSpec(huge, "huge.yaml", {});
  REQUIRE(result.problems.size() == 1);
  // Byte 1048576 (0-based) is on line 2, 1048564 bytes after that line's start.
  CHECK_THAT(FormatProblem(result.problems[0]),
             Catch::Equals("huge.yaml:2:1048565: the spec has more than 1048576 bytes (1 MiB), "
                           "the most a spec may have; this is the first byte beyond"));
}

TEST_CASE("Aliases that expand into a huge tree stop the reading with a problem") {
  // 1000 services share one list of 1000 endpoints: a few kilobytes of text, millions of
  // values once expanded.
  std::string spec = "version: v1\ndeployment: d\nservices:\n  s0:\n    image: {name: x}\n";
  spec += "    endpoints: &endpoints\n";
  for (int i = 0; i < 1000; ++i) {
    spec += "      - {name: e" + std::to_string(i) + ", protocol: tcp, port: 80}\n";
  }
  for (int i = 1; i < 1000; ++i) {
    spec += "  s" + std::to_string(i) + ": {image: {name: x}, endpoints: *endpoints}\n";
  }
  ParseResult result = ParseSpec(spec, "aliases.yaml", {});
  REQUIRE_FALSE(result.ok());
  bool stopped = false;
  for (const Problem& problem : result.problems) {
    stopped = stopped || problem.message.find("stopped reading") != std::string::npos;
  }
  CHECK(stopped);
}

TEST_CASE("A chain of thousands of dependent services is checked within a small thread stack") {
  std::string spec = "version: v1\ndeployment: d\nservices:\n";
  constexpr int kServices = 5000;
  for (int i = 0; i < kServices; ++i) {
    spec += "  s" + std::to_string(i) + ": {image: {name: x}";
    if (i + 1 < kServices) spec += ", depends: [{service: s" + std::to_string(i + 1) + "}]";
    spec += "}\n";
  }
  // 256 KiB would not hold 5000 frames of a recursive search.
  struct Job {
    const std::string* spec;
    ParseResult result;
  } job{&spec, {}};
  pthread_attr_t attributes;
  REQUIRE(pthread_attr_init(&attributes) == 0);
  REQUIRE(pthread_attr_setstacksize(&attributes, 256 * 1024) == 0);
  pthread_t thread;
  auto run = [](void* arg) -> void* {
    auto* job = static_cast<Job*>(arg);
    job->result = ParseSpec(*job->spec, "chain.yaml", {});
    return nullptr;
  };
  REQUIRE(pthread_create(&thread, &attributes, run, &job) == 0);
  REQUIRE(pthread_join(thread, nullptr) == 0);
  pthread_attr_destroy(&attributes);
  CHECK(job.result.ok());
  CHECK(job.result.deployment->services.size() == kServices);
}

TEST_CASE("A spec with more problems than the limit reports the limit as its last problem") {
  std::string spec = "version: v1\ndeployment: d\nservices:\n  web:\n    image: {name: x}\n";
  spec += "    env: {";
  for (int i = 0; i < 600; ++i) spec += "V" + std::to_string(i) + ": $E:MISSING, ";
  spec += "}\n";
  ParseResult result = ParseSpec(spec, "many.yaml", {});
  REQUIRE(result.problems.size() == 501);
  bool limit_reported = false;
  for (const Problem& problem : result.problems) {
    limit_reported = limit_reported || problem.message == "stopped after 500 problems";
  }
  CHECK(limit_reported);
}

TEST_CASE("An unreadable spec file is one problem without a position") {
  ParseResult missing = ParseSpecFile("/nonexistent/app.yaml", {});
  REQUIRE(missing.problems.size() == 1);
  CHECK(FormatProblem(missing.problems[0]) ==
        "/nonexistent/app.yaml: cannot read: No such file or directory");

  ParseResult directory = ParseSpecFile(testing::SpecsDir().string(), {});
  REQUIRE(directory.problems.size() == 1);
  CHECK_THAT(directory.problems[0].message, Catch::Contains("Is a directory"));
}

TEST_CASE("A problem reads file:line:column: path: message, leaving out what it lacks") {
  CHECK(FormatProblem({"app.yaml", 12, 7, "services.web.health.check.type",
                       "expected one of tcp, http, command, got \"htp\""}) ==
        "app.yaml:12:7: services.web.health.check.type: expected one of tcp, http, command, got "
        "\"htp\"");
  CHECK(FormatProblem({"app.yaml", 1, 1, "", "invalid YAML: x"}) ==
        "app.yaml:1:1: invalid YAML: x");
  CHECK(FormatProblem({"app.yaml", 0, 0, "", "cannot read: y"}) == "app.yaml: cannot read: y");
}

TEST_CASE("All problems together become one InvalidArgument status, a line each") {
  CHECK(ProblemsToStatus({}).ok());
  Status status = ProblemsToStatus({{"a.yaml", 1, 2, "x", "bad"}, {"a.yaml", 3, 4, "y", "worse"}});
  CHECK(status.code() == StatusCode::kInvalidArgument);
  CHECK(status.message() == "a.yaml:1:2: x: bad\na.yaml:3:4: y: worse");
}

}  // namespace
}  // namespace zlayer::spec
