// What the node publishes for its services (service_network.h): which replicas
// receive connections through a service address, and which names resolve.
#include "agent/daemon/service_network.h"

#include <catch2/catch.hpp>

#include "agent/daemon/ingress_controller.h"

namespace zlayer::agent::daemon {
namespace {

namespace services = network::services;
using reconcile::ReplicaHealth;
using reconcile::ReplicaState;

PublishedService Web() { return {"shop", "web", {{services::Protocol::kTcp, 80, 8080}}}; }

const std::map<std::string, std::string> kAddresses = {{"shop/web", "10.201.0.1"}};
const std::map<std::string, std::string> kSubnets = {{"shop", "10.200.0.0/24"}};

TEST_CASE("Only ready replicas are behind a service's address") {
  std::vector<PublishedReplica> replicas = {
      {"shop", "web", 0, "10.200.0.2", true},
      {"shop", "web", 1, "10.200.0.3", false},  // starting, unhealthy or stopping
      {"shop", "web", 2, "", true},             // no address (yet)
  };
  services::NetworkRules rules = BuildRules({Web()}, replicas, kAddresses, kSubnets);
  REQUIRE(rules.services.size() == 1);
  CHECK(rules.services[0].address == "10.201.0.1");
  CHECK(rules.services[0].backends == std::vector<std::string>{"10.200.0.2"});
  CHECK(rules.services[0].ports[0].target_port == 8080);
  CHECK(rules.subnets == kSubnets);
}

TEST_CASE("A service without an address yet is left out of the rules") {
  services::NetworkRules rules = BuildRules({Web()}, {}, {}, kSubnets);
  CHECK(rules.services.empty());
}

TEST_CASE("A deployment's names map the service to its address and each replica to its own") {
  auto names = BuildNames(
      {Web()}, {{"shop", "web", 0, "10.200.0.2", true}, {"shop", "web", 1, "10.200.0.3", false}},
      kAddresses);
  REQUIRE(names.count("shop") == 1);
  const auto& records = names.at("shop");
  auto has = [&](const std::string& name, const std::string& address) {
    return std::find(records.begin(), records.end(), network::DnsRecord{name, address}) !=
           records.end();
  };
  CHECK(has("web.shop.zlayer.internal", "10.201.0.1"));
  CHECK(has("0.web.shop.zlayer.internal", "10.200.0.2"));
  // A replica that is not ready keeps its own name: it is addressed on purpose.
  CHECK(has("1.web.shop.zlayer.internal", "10.200.0.3"));
}

TEST_CASE("A replica is ready for traffic when the reconciler counts it ready and it runs") {
  reconcile::ReplicaView view;
  view.state = ReplicaState::kRunning;
  view.ready = true;
  CHECK(ReadyForTraffic(view));
  view.health = ReplicaHealth::kStarting;  // adopted: its checks start over
  CHECK(ReadyForTraffic(view));
  view.health = ReplicaHealth::kUnhealthy;
  CHECK_FALSE(ReadyForTraffic(view));
  view.health = ReplicaHealth::kHealthy;
  view.ready = false;  // a new replica whose first check has not passed
  CHECK_FALSE(ReadyForTraffic(view));
  view.ready = true;
  for (ReplicaState state : {ReplicaState::kRemoving, ReplicaState::kStopping,
                             ReplicaState::kStarting, ReplicaState::kBackoff}) {
    view.state = state;
    CHECK_FALSE(ReadyForTraffic(view));
  }
}

TEST_CASE("A change of servers alone keeps the proxy's structure: the runtime API can apply it") {
  ingress::ProxyState before;
  before.listeners.push_back({80, ingress::ListenerKind::kHttp, {}, {}, ""});
  before.backends.push_back(
      {"b_shop_web_http", ingress::BackendMode::kHttp, "shop", "web", "http", {}});
  ingress::ProxyState after = before;
  after.backends[0].servers.push_back({"shop-web-0", "10.200.0.2", 8080});
  after.udp.push_back({53, 5353, "shop", "dns", "dns", {"10.200.0.3"}});
  CHECK(SameStructure(before, after));

  ingress::ProxyState new_route = after;
  new_route.listeners[0].routes.push_back({"", "/", "b_shop_web_http", "shop", "web", "http", 0});
  CHECK_FALSE(SameStructure(after, new_route));
  ingress::ProxyState new_listener = after;
  new_listener.listeners.push_back({443, ingress::ListenerKind::kHttps, {}, {}, ""});
  CHECK_FALSE(SameStructure(after, new_listener));
}

TEST_CASE(
    "With ACME on, an https host gets a port-80 listener for its challenges when no endpoint "
    "made one") {
  ingress::ProxyState state;
  ingress::Listener tls{443, ingress::ListenerKind::kHttps, {}, {}, ""};
  tls.routes.push_back({"shop.test", "/", "b_shop_web_tls", "shop", "web", "tls", 0});
  state.listeners.push_back({22, ingress::ListenerKind::kTcp, {}, {}, "b_shop_git_ssh"});
  state.listeners.push_back(tls);
  CHECK(AddAcmeChallengeListener(state));
  REQUIRE(state.listeners.size() == 3);
  CHECK(state.listeners[1].port == 80);  // in port order
  CHECK(state.listeners[1].kind == ingress::ListenerKind::kHttp);
  CHECK(state.listeners[1].routes.empty());
  // Again: nothing more.
  CHECK(AddAcmeChallengeListener(state));
  CHECK(state.listeners.size() == 3);
}

TEST_CASE("Without a host HTTP-01 could validate, no port-80 listener is added") {
  ingress::ProxyState state;
  ingress::Listener tls{443, ingress::ListenerKind::kHttps, {}, {}, ""};
  tls.routes.push_back({"*.shop.test", "/", "b_shop_web_tls", "shop", "web", "tls", 0});
  tls.routes.push_back({"", "/", "b_shop_web_any", "shop", "web", "any", 0});
  state.listeners.push_back(tls);
  CHECK(AddAcmeChallengeListener(state));
  CHECK(state.listeners.size() == 1);
}

TEST_CASE("Port 80 taken by a tcp endpoint cannot answer challenges, and is left as it is") {
  ingress::ProxyState state;
  state.listeners.push_back({80, ingress::ListenerKind::kTcp, {}, {}, "b_shop_raw_plain"});
  ingress::Listener tls{443, ingress::ListenerKind::kHttps, {}, {}, ""};
  tls.routes.push_back({"shop.test", "/", "b_shop_web_tls", "shop", "web", "tls", 0});
  state.listeners.push_back(tls);
  const ingress::ProxyState before = state;
  CHECK_FALSE(AddAcmeChallengeListener(state));
  CHECK(state == before);
}

}  // namespace
}  // namespace zlayer::agent::daemon
