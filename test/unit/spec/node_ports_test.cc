// Replicas on the node's network share its ports: a service that listens on a port runs one
// replica, and two services of a deployment cannot listen on the same port.
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

std::string Spec(std::string_view services) {
  return "version: v1\ndeployment: d\nservices:\n" + std::string(services);
}

TEST_CASE("A service with an endpoint on the node's network is refused more than one replica") {
  for (std::string_view mode : {"host"}) {
    std::string spec = Spec(
        "  web:\n"
        "    image: {name: x}\n"
        "    network_mode: " +
        std::string(mode) +
        "\n"
        "    scale: {replicas: 3}\n"
        "    endpoints: [{name: http, protocol: http, port: 80, target_port: 8080}]\n");
    INFO(mode);
    CHECK(Formatted(ParseSpec(spec, "web.yaml", {})) ==
          std::vector<std::string>{
              "web.yaml:7:23: services.web.scale.replicas: 3 replicas would share the node's "
              "network and so its port 8080/tcp: all but one would fail with \"address in use\", "
              "and a health check could pass because another replica answers; run one replica, "
              "or give the service no endpoint and no tcp health check port"});
  }
}

TEST_CASE("One replica, no endpoint, or replicas without ports are accepted") {
  const std::string specs[] = {
      Spec("  web:\n    image: {name: x}\n    network_mode: host\n    scale: {replicas: 1}\n"
           "    endpoints: [{name: http, protocol: http, port: 8080}]\n"),
      Spec("  web:\n    image: {name: x}\n    network_mode: host\n    scale: {replicas: 0}\n"
           "    endpoints: [{name: http, protocol: http, port: 8080}]\n"),
      Spec("  worker:\n    image: {name: x}\n    network_mode: host\n    scale: {replicas: 5}\n"),
      Spec("  worker:\n    image: {name: x}\n    network_mode: host\n    scale: {replicas: 5}\n"
           "    health: {check: {type: command, command: 'true'}}\n"),
  };
  for (const std::string& spec : specs) {
    INFO(spec);
    CHECK(Formatted(ParseSpec(spec, "ok.yaml", {})) == std::vector<std::string>{});
  }
}

TEST_CASE("A tcp health check port is a port too, for replicas and between services") {
  std::string replicas = Spec(
      "  db:\n    image: {name: x}\n    network_mode: host\n    scale: {replicas: 2}\n"
      "    health: {check: {type: tcp, port: 5432}}\n");
  CHECK(Formatted(ParseSpec(replicas, "db.yaml", {})) ==
        std::vector<std::string>{
            "db.yaml:7:23: services.db.scale.replicas: 2 replicas would share the node's network "
            "and so its port 5432/tcp: all but one would fail with \"address in use\", and a "
            "health check could pass because another replica answers; run one replica, or give "
            "the service no endpoint and no tcp health check port"});

  std::string shared = Spec(
      "  db:\n    image: {name: x}\n    network_mode: host\n"
      "    health: {check: {type: tcp, port: 5432}}\n"
      "  other:\n    image: {name: x}\n    network_mode: host\n"
      "    health: {check: {type: tcp, port: 5432}}\n");
  CHECK(Formatted(ParseSpec(shared, "db.yaml", {})) ==
        std::vector<std::string>{
            "db.yaml:11:39: services.other.health.check.port: port 5432/tcp is also used by "
            "service db (line 7); services on the node's network share its ports: give one of "
            "them another port"});
}

TEST_CASE("Two services listening on one port of the node are refused at the second") {
  std::string spec = Spec(
      "  api:\n    image: {name: x}\n    network_mode: host\n"
      "    endpoints: [{name: http, protocol: http, port: 80, target_port: 8080}]\n"
      "  admin:\n    image: {name: x}\n    network_mode: host\n"
      "    endpoints:\n"
      "      - {name: dns, protocol: udp, port: 8080}\n"
      "      - {name: http, protocol: tcp, port: 8080}\n");
  // 8080/udp does not collide with 8080/tcp; the tcp endpoint does.
  CHECK(Formatted(ParseSpec(spec, "two.yaml", {})) ==
        std::vector<std::string>{
            "two.yaml:13:43: services.admin.endpoints[1].port: port 8080/tcp is also used by "
            "service api (line 7); services on the node's network share its ports: give one of "
            "them another port"});

  std::string same_service = Spec(
      "  web:\n    image: {name: x}\n    network_mode: host\n"
      "    endpoints:\n"
      "      - {name: http, protocol: http, port: 8080}\n"
      "      - {name: ws, protocol: websocket, port: 8080}\n");
  CHECK(Formatted(ParseSpec(same_service, "one.yaml", {})) == std::vector<std::string>{});
}

TEST_CASE("ReplicasProblem answers what zlayer scale asks before changing a count") {
  ParseResult parsed = ParseSpec(Spec("  web:\n    image: {name: x}\n    network_mode: host\n"
                                      "    endpoints: [{name: http, protocol: http, port: 8080}]\n"
                                      "  worker:\n    image: {name: x}\n    network_mode: host\n"),
                                 "s.yaml", {});
  REQUIRE(parsed.ok());
  const Service& web = parsed.deployment->services.at("web");
  CHECK_FALSE(ReplicasProblem(web, 0).has_value());
  CHECK_FALSE(ReplicasProblem(web, 1).has_value());
  REQUIRE(ReplicasProblem(web, 2).has_value());
  CHECK_THAT(*ReplicasProblem(web, 2),
             Catch::StartsWith("2 replicas would share the node's network and so its port "
                               "8080/tcp"));
  CHECK_FALSE(ReplicasProblem(parsed.deployment->services.at("worker"), 50).has_value());
}

TEST_CASE("A deployment may not listen on a node port another deployment holds") {
  ParseResult parsed = ParseSpec(Spec("  web:\n    image: {name: x}\n    network_mode: host\n"
                                      "    endpoints: [{name: http, protocol: http, port: 8080}]\n"
                                      "  dns:\n    image: {name: x}\n    network_mode: host\n"
                                      "    endpoints: [{name: dns, protocol: udp, port: 5353}]\n"),
                                 "s.yaml", {});
  REQUIRE(parsed.ok());
  const Deployment& incoming = *parsed.deployment;
  const std::string self = incoming.name;

  CHECK(NodePortConflicts(incoming, {}).empty());
  // Its own earlier generation, and the same number on the other protocol, are no conflict.
  CHECK(NodePortConflicts(incoming, {{self, "web", {8080, false}},
                                     {"shop", "api", {8080, true}},
                                     {"shop", "api", {5353, false}}})
            .empty());
  CHECK(NodePortConflicts(incoming, {{"shop", "api", {8080, false}}}) ==
        std::vector<std::string>{
            "service web listens on 8080/tcp, which service api of deployment shop holds on the "
            "node's network; give one of them another port"});
  CHECK(NodePortConflicts(incoming, {{"shop", "resolver", {5353, true}}}).size() == 1);
}

}  // namespace
}  // namespace zlayer::spec
