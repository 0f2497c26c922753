// Keys of ZLayer's schema (spec-v1.md's list): those this node does not run are refused as
// "recognised, not supported on this node yet" at their own path and position, never as
// unknown keys; `capabilities` is ZLayer's name for cap_add.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "agent/spec/parser.h"

namespace zlayer::spec {
namespace {

std::vector<std::string> Formatted(const ParseResult& result) {
  std::vector<std::string> lines;
  for (const Problem& problem : result.problems) lines.push_back(FormatProblem(problem));
  return lines;
}

constexpr std::string_view kSpecHead = "version: v1\ndeployment: d\n";
constexpr std::string_view kServiceHead = "services:\n  web:\n    image: {name: x}\n";

TEST_CASE("Every recognised but unsupported key of spec-v1.md is refused as such, in place") {
  struct Case {
    std::string spec;      // without the head
    std::string expected;  // the one problem
  };
  std::vector<Case> cases;
  for (std::string_view key : {"externals", "tunnels", "api"}) {
    cases.push_back({std::string(key) + ": {}\n" + std::string(kServiceHead),
                     "k.yaml:3:1: " + std::string(key)});
  }
  for (std::string_view key : {"network",
                               "init",
                               "errors",
                               "port_mappings",
                               "externals",
                               "tunnels",
                               "api",
                               "devices",
                               "sysctls",
                               "security_opt",
                               "pid_mode",
                               "ipc_mode",
                               "node_mode",
                               "node_selector",
                               "affinity",
                               "platform",
                               "service_type",
                               "wasm",
                               "logs",
                               "lifecycle",
                               "replica_groups",
                               "dns",
                               "extra_hosts",
                               "memory_swap",
                               "tty",
                               "stdin_open",
                               "isolation",
                               "extra_groups",
                               "init_container",
                               "userns_mode",
                               "cgroup_parent",
                               "expose",
                               "overlay",
                               "localhost_reachability"}) {
    cases.push_back({std::string(kServiceHead) + "    " + std::string(key) + ": x\n",
                     "k.yaml:6:5: services.web." + std::string(key)});
  }
  for (std::string_view key : {"memory_swap", "memory_reservation", "cpu_shares", "cpuset", "gpu",
                               "shm_size", "oom_score_adj"}) {
    cases.push_back(
        {std::string(kServiceHead) + "    resources:\n      " + std::string(key) + ": x\n",
         "k.yaml:7:7: services.web.resources." + std::string(key)});
  }
  cases.push_back({"services:\n  web:\n    image: {name: x, source_policy: y}\n",
                   "k.yaml:5:22: services.web.image.source_policy"});
  cases.push_back({std::string(kServiceHead) + "    lifecycle: {delete_on_exit: true}\n",
                   "k.yaml:6:5: services.web.lifecycle"});
  for (std::string_view key : {"stream", "target_role", "tunnel"}) {
    cases.push_back({std::string(kServiceHead) +
                         "    endpoints:\n      - {name: e, protocol: tcp, port: 80, " +
                         std::string(key) + ": x}\n",
                     "k.yaml:7:44: services.web.endpoints[0]." + std::string(key)});
  }
  cases.push_back({std::string(kServiceHead) +
                       "    storage:\n      - {type: anonymous, target: /data, tier: local}\n",
                   "k.yaml:7:42: services.web.storage[0].tier"});
  for (const Case& c : cases) {
    std::string spec = std::string(kSpecHead) + c.spec;
    INFO(spec);
    CHECK(Formatted(ParseSpec(spec, "k.yaml", {})) ==
          std::vector<std::string>{c.expected + ": recognised, not supported on this node yet"});
  }
}

TEST_CASE("A named volume's size and storage type s3 are recognised, not supported") {
  std::string spec = std::string(kSpecHead) + std::string(kServiceHead) +
                     "    storage:\n"
                     "      - {type: named, name: v, target: /v, size: 1Gi}\n"
                     "      - {type: s3, bucket: b, target: /s}\n";
  CHECK(Formatted(ParseSpec(spec, "k.yaml", {})) ==
        std::vector<std::string>{"k.yaml:7:44: services.web.storage[0].size: recognised with "
                                 "type: named, not supported on this node yet",
                                 "k.yaml:8:16: services.web.storage[1].type: \"s3\" is "
                                 "recognised, not supported on this node yet",
                                 "k.yaml:8:20: services.web.storage[1].bucket: recognised, not "
                                 "supported on this node yet"});
}

TEST_CASE("capabilities is ZLayer's name for cap_add, and both lists add") {
  std::string spec = std::string(kSpecHead) + std::string(kServiceHead) +
                     "    capabilities: [NET_ADMIN, SYS_TIME]\n"
                     "    cap_add: [sys_time, CAP_CHOWN]\n";
  ParseResult result = ParseSpec(spec, "caps.yaml", {});
  REQUIRE(Formatted(result) == std::vector<std::string>{});
  CHECK(result.deployment->services.at("web").cap_add ==
        std::vector<std::string>{"CAP_SYS_TIME", "CAP_CHOWN", "CAP_NET_ADMIN"});

  std::string dropped = std::string(kSpecHead) + std::string(kServiceHead) +
                        "    capabilities: [NET_ADMIN]\n    cap_drop: [NET_ADMIN]\n";
  CHECK(Formatted(ParseSpec(dropped, "caps.yaml", {})) ==
        std::vector<std::string>{
            "caps.yaml:7:15: services.web.cap_drop: CAP_NET_ADMIN is both added and dropped"});

  std::string wrong =
      std::string(kSpecHead) + std::string(kServiceHead) + "    capabilities: [FLY]\n";
  CHECK(Formatted(ParseSpec(wrong, "caps.yaml", {})) ==
        std::vector<std::string>{"caps.yaml:6:20: services.web.capabilities[0]: expected a "
                                 "capability such as NET_ADMIN, CAP_SYS_TIME or ALL, got \"FLY\""});
}

TEST_CASE("network_mode is default, host or none; the others ZLayer knows are refused") {
  const std::pair<std::string_view, NetworkMode> modes[] = {{"default", NetworkMode::kDefault},
                                                            {"host", NetworkMode::kHost},
                                                            {"none", NetworkMode::kNone}};
  for (const auto& [mode, parsed] : modes) {
    std::string spec = std::string(kSpecHead) + std::string(kServiceHead) +
                       "    network_mode: " + std::string(mode) + "\n";
    ParseResult result = ParseSpec(spec, "net.yaml", {});
    REQUIRE(Formatted(result) == std::vector<std::string>{});
    CHECK(result.deployment->services.at("web").network_mode == parsed);
  }
  for (std::string_view mode : {"bridge", "bridge:front", "container:abc", "overlay"}) {
    std::string spec = std::string(kSpecHead) + std::string(kServiceHead) +
                       "    network_mode: " + std::string(mode) + "\n";
    CHECK(Formatted(ParseSpec(spec, "net.yaml", {})) ==
          std::vector<std::string>{"net.yaml:6:19: services.web.network_mode: \"" +
                                   std::string(mode) +
                                   "\" is recognised, not supported on this node yet"});
  }
  std::string spec =
      std::string(kSpecHead) + std::string(kServiceHead) + "    network_mode: hots\n";
  CHECK(Formatted(ParseSpec(spec, "net.yaml", {})) ==
        std::vector<std::string>{"net.yaml:6:19: services.web.network_mode: expected one of "
                                 "default, host, none, got \"hots\""});
}

}  // namespace
}  // namespace zlayer::spec
