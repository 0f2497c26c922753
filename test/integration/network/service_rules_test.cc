// Service addresses and isolation (agent/network/services) against the real
// thing: nftables 1.0.6, Debian's CNI plugins, busybox httpd and wget in
// network namespaces. Needs root.
//
// Each test case moves its thread into a network namespace of its own first
// (like cni_bridge_test.cc, emulating dockerd's FORWARD drop beside us), so the
// bridges, rules and the nftables table are invisible to other tests and to the
// host, and vanish with the namespace. Its ranges and names are its own:
// deployments in 10.233.0.0/16 on bridges zl-svct*, services in 10.234.0.0/16.
#include <arpa/inet.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "agent/network/cni/cni_invoker.h"
#include "agent/network/netns.h"
#include "agent/network/services/rule_applier.h"
#include "agent/network/services/ruleset.h"
#include "agent/network/services/service_address_allocator.h"
#include "common/network_names.h"
#include "common/process_runner.h"
#include "test/support/child_process.h"
#include "test/support/files.h"
#include "test/support/network/private_network.h"
#include "test/support/temp_dir.h"
#include "test/support/wait_until.h"

using zlayer::AsioProcessRunner;
using zlayer::Ipv4Cidr;
using zlayer::Status;
using namespace zlayer::agent::network;
using namespace zlayer::agent::network::cni;
using namespace zlayer::agent::network::services;

namespace {

constexpr const char* kServiceRange = "10.234.0.0/16";
constexpr const char* kWebSubnet = "10.233.0.0/24";
constexpr const char* kOtherSubnet = "10.233.1.0/24";
constexpr int kPort = 80;                          // on the service address
constexpr int kTargetPort = 8080;                  // on each replica
constexpr int kEchoPort = 9000;                    // a line with the replica's name, then an echo
constexpr const char* kNodeAddress = "192.0.2.1";  // the node's own (its default route's)
constexpr const char* kOutsideAddress = "192.0.2.2";  // another host, AddOutsideHost
constexpr int kPublicUdpPort = 5300;                  // the node's, to 5353 on each replica

using Shell = zlayer::testing::ShellResult;
Shell Run(const std::string& command) { return zlayer::testing::RunShell(command); }

// A private network namespace like a host where dockerd runs
// (EnterPrivateNetworkLikeDockerHost), with a default route.
void EnterPrivateNetworkWithDefaultRoute() {
  zlayer::testing::EnterPrivateNetworkLikeDockerHost();
  // Like a real host, a default route (into a veth pair leading nowhere): service
  // addresses are routed somewhere, so a connection to one reaches the hooks
  // instead of failing with "network unreachable" at the route lookup.
  REQUIRE(Run("ip link add zl-svctup type veth peer name zl-svctpeer && "
              "ip addr add 192.0.2.1/24 dev zl-svctup && ip link set zl-svctup up && "
              "ip link set zl-svctpeer up && ip route add default via 192.0.2.2")
              .status == 0);
}

// Two deployments: "web" with replicas web-0 and web-1 (busybox httpd on
// kTargetPort answering their own name, busybox nc on kEchoPort saying its
// name and echoing) and a client web-c, and "other" with
// one namespace other-0, each deployment on its own bridge and subnet. The
// nftables table is applied through the real NftRuleApplier.
class Node {
 public:
  Node()
      : table_(zlayer::NftTableName(Cidr(kServiceRange))),
        runner_(io_),
        invoker_(runner_, InvokerOptions{.plugin_dirs = {"/usr/lib/cni"},
                                         .timeout = std::chrono::seconds(20)}),
        netns_(dir_.Path("run")),
        applier_(io_, runner_),
        addresses_(Cidr(kServiceRange)) {
    EnterPrivateNetworkWithDefaultRoute();
    Attach("web", "zl-svct0", kWebSubnet, {"web-0", "web-1", "web-c"});
    Attach("other", "zl-svct1", kOtherSubnet, {"other-0"});
    for (const char* replica : {"web-0", "web-1"}) {
      const std::string root = dir_.Path(std::string("www/") + replica);
      std::filesystem::create_directories(root);
      std::ofstream(root + "/index.html") << replica;
      servers_.push_back(
          std::make_unique<zlayer::testing::ChildProcess>(zlayer::testing::SpawnOptions{
              .argv = {"nsenter", "--net=" + netns_paths_[replica], "busybox", "httpd", "-f", "-p",
                       std::to_string(kTargetPort), "-h", root},
              .env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}));
      const std::string echo = dir_.Path(std::string("echo-") + replica);
      std::ofstream(echo) << "#!/bin/sh\necho " << replica << "\nexec cat\n";
      std::filesystem::permissions(echo, std::filesystem::perms::owner_all);
      servers_.push_back(
          std::make_unique<zlayer::testing::ChildProcess>(zlayer::testing::SpawnOptions{
              .argv = {"nsenter", "--net=" + netns_paths_[replica], "busybox", "nc", "-ll", "-p",
                       std::to_string(kEchoPort), "-e", echo},
              .env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}));
    }
    for (const char* replica : {"web-0", "web-1"}) {
      REQUIRE(zlayer::testing::WaitUntil(
          [&] { return Get("web-c", address_[replica], kTargetPort) == replica; }));
      std::string said;
      const bool echoes = zlayer::testing::WaitUntil([&] {
        said = Run(fmt::format("nsenter --net={} timeout 3 busybox nc {} {} </dev/null",
                               netns_paths_["web-c"], address_[replica], kEchoPort))
                   .output;
        return said == std::string(replica) + "\n";
      });
      INFO(said);
      REQUIRE(echoes);
    }
  }

  const std::string& table() const { return table_; }
  std::string Address(const std::string& name) { return address_.at(name); }
  std::string ServiceAddress(const std::string& service) {
    auto address = addresses_.Allocate("web", service);
    REQUIRE(address.ok());
    return *address;
  }

  // The rules with the "web" service "api" on ServiceAddress("api") and the
  // given ready backends (udp port 53 goes to 5353, where ServeWhoOverUdp answers).
  NetworkRules Rules(const std::vector<std::string>& ready) {
    NetworkRules rules;
    rules.subnets = {{"web", kWebSubnet}, {"other", kOtherSubnet}};
    std::vector<std::string> backends;
    for (const std::string& name : ready) backends.push_back(Address(name));
    rules.services.push_back(ServiceRoute{.deployment = "web",
                                          .service = "api",
                                          .address = ServiceAddress("api"),
                                          .ports = {{Protocol::kTcp, kPort, kTargetPort},
                                                    {Protocol::kTcp, kEchoPort, kEchoPort},
                                                    {Protocol::kUdp, 53, 5353}},
                                          .backends = backends});
    return rules;
  }

  // Checks the script with `nft -c`, then applies it through the applier.
  Status Apply(const std::string& script) {
    const std::string file = dir_.Path("ruleset.nft");
    std::ofstream(file) << script;
    Shell check = Run("nft -c -f " + file);
    INFO(script);
    INFO(check.output);
    CHECK(check.status == 0);
    std::optional<Status> outcome;
    applier_.Apply(script, [&](Status s) { outcome = s; });
    io_.restart();
    io_.run();
    REQUIRE(outcome.has_value());
    return *outcome;
  }
  Status Apply(const NetworkRules& rules) {
    auto script = RenderRuleset(table_, rules);
    INFO(script.status().message());
    REQUIRE(script.ok());
    return Apply(*script);
  }

  // The body of http://address:port/ fetched from namespace `from`; "" when it fails.
  std::string Get(const std::string& from, const std::string& address, int port, int seconds = 3) {
    Shell get = Run(fmt::format("nsenter --net={} timeout {} busybox wget -q -O - http://{}:{}/",
                                netns_paths_.at(from), seconds, address, port));
    return get.status == 0 ? get.output : "";
  }
  // A DNS server (the real dnsmasq) in `replica`'s namespace on udp `port`, answering
  // "who.test" with the replica's own address: which replica answered shows in the answer.
  void ServeWhoOverUdp(const std::string& replica, int port) {
    const std::string address = address_.at(replica);
    servers_.push_back(
        std::make_unique<zlayer::testing::ChildProcess>(zlayer::testing::SpawnOptions{
            .argv = {"nsenter", "--net=" + netns_paths_.at(replica), "dnsmasq",
                     "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                     "--pid-file=", "--user=root", "--bind-interfaces",
                     "--listen-address=" + address, "--port=" + std::to_string(port),
                     "--host-record=who.test," + address},
            .env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}));
  }
  // The address "who.test" resolves to, asked from `from` ("" = the node
  // itself) of the DNS server at `server` (port 53 unless "address:port", a
  // new socket each time); "" when there is no answer.
  std::string AskWho(const std::string& from, const std::string& server) {
    const std::string enter = from.empty() ? "" : "nsenter --net=" + netns_paths_.at(from) + " ";
    Shell ask = Run(fmt::format("{}timeout 3 busybox nslookup who.test {}", enter, server));
    const size_t name = ask.output.find("who.test");
    const size_t at = ask.output.find("Address: ", name == std::string::npos ? 0 : name);
    if (name == std::string::npos || at == std::string::npos) return "";
    const size_t end = ask.output.find_first_of(" \n", at + 9);
    return ask.output.substr(at + 9, end - at - 9);
  }
  // A host beside the node: a namespace holding the peer of the node's
  // default route's veth (kOutsideAddress), the node at kNodeAddress.
  void AddOutsideHost() {
    auto path = netns_.Create("outside");
    REQUIRE(path.ok());
    netns_paths_["outside"] = *path;
    REQUIRE(Run(fmt::format("ip link set zl-svctpeer netns {0} && "
                            "nsenter --net={0} sh -c 'ip link set lo up && "
                            "ip addr add {1}/24 dev zl-svctpeer && ip link set zl-svctpeer up'",
                            *path, kOutsideAddress))
                .status == 0);
  }

  // The whole wget run, for failures.
  Shell Fetch(const std::string& from, const std::string& address, int port, int seconds) {
    return Run(fmt::format("nsenter --net={} timeout {} busybox wget -q -O - http://{}:{}/",
                           netns_paths_.at(from), seconds, address, port));
  }

 private:
  static Ipv4Cidr Cidr(const std::string& text) {
    auto cidr = Ipv4Cidr::Parse(text);
    REQUIRE(cidr.ok());
    return *cidr;
  }

  // Namespaces on a bridge of their own. They are not detached at the end: the
  // test's private network namespace, and with it the veths, bridges, iptables
  // rules and the table, goes away; the TempDir unmounts the namespace files.
  void Attach(const std::string& deployment, const std::string& bridge, const std::string& subnet,
              const std::vector<std::string>& names) {
    NetworkList list = BridgeNetworkList(BridgeNetwork{.name = "zl-svct-" + deployment,
                                                       .bridge = bridge,
                                                       .subnet = subnet,
                                                       .ipam_data_dir = dir_.Path("ipam")});
    for (const std::string& name : names) {
      auto path = netns_.Create(name);
      REQUIRE(path.ok());
      netns_paths_[name] = *path;
      REQUIRE(Run("nsenter --net=" + *path + " ip link set lo up").status == 0);
      std::optional<zlayer::Result<CniResult>> added;
      invoker_.Add(list, {.container_id = name, .netns = *path, .ifname = "eth0"},
                   [&](zlayer::Result<CniResult> r) { added = std::move(r); });
      io_.restart();
      io_.run();
      REQUIRE(added.has_value());
      INFO(added->status().message());
      REQUIRE(added->ok());
      address_[name] = (*added)->AddressOf("eth0");
    }
  }

  zlayer::testing::TempDir dir_;
  const std::string table_;
  boost::asio::io_context io_;
  AsioProcessRunner runner_;
  Invoker invoker_;
  Netns netns_;
  NftRuleApplier applier_;
  ServiceAddressPool addresses_;
  std::map<std::string, std::string> netns_paths_;
  std::map<std::string, std::string> address_;
  std::vector<std::unique_ptr<zlayer::testing::ChildProcess>> servers_;
};

// Which replicas answer `count` requests from `from` to the service address.
std::multiset<std::string> Answers(Node& node, const std::string& from, int count) {
  std::multiset<std::string> answers;
  const std::string address = node.ServiceAddress("api");
  for (int i = 0; i < count; ++i) answers.insert(node.Get(from, address, kPort));
  return answers;
}

// A TCP connection from the node itself, reading and writing lines with a deadline.
class Connection {
 public:
  Connection(const std::string& address, int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    REQUIRE(::inet_pton(AF_INET, address.c_str(), &to.sin_addr) == 1);
    INFO("connect " << address << ":" << port << ": " << std::strerror(errno));
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  }
  ~Connection() { ::close(fd_); }

  // The next line without its newline; "" on EOF, error or timeout.
  std::string ReadLine() {
    std::string line;
    char c;
    while (::read(fd_, &c, 1) == 1) {
      if (c == '\n') return line;
      line += c;
    }
    return "";
  }
  bool WriteLine(const std::string& line) {
    const std::string data = line + "\n";
    return ::write(fd_, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  }

 private:
  int fd_;
};

}  // namespace

TEST_CASE(
    "Connections to a service address spread over its ready replicas, a replica dropped from "
    "the ready set gets no new ones, and a replica reaches its own service (hairpin)") {
  Node node;
  REQUIRE(node.Apply(node.Rules({"web-0", "web-1"})).ok());

  auto answers = Answers(node, "web-c", 20);
  INFO(Catch::StringMaker<std::multiset<std::string>>::convert(answers));
  CHECK(answers.count("web-0") > 0);
  CHECK(answers.count("web-1") > 0);
  CHECK(answers.count("") == 0);

  // From a replica to its own service: some requests come back to itself.
  auto hairpin = Answers(node, "web-0", 20);
  INFO(Catch::StringMaker<std::multiset<std::string>>::convert(hairpin));
  CHECK(hairpin.count("web-0") > 0);
  CHECK(hairpin.count("web-1") > 0);
  CHECK(hairpin.count("") == 0);

  REQUIRE(node.Apply(node.Rules({"web-1"})).ok());
  CHECK(Answers(node, "web-c", 10) ==
        std::multiset<std::string>({"web-1", "web-1", "web-1", "web-1", "web-1", "web-1", "web-1",
                                    "web-1", "web-1", "web-1"}));
  // The node itself (output hook) goes through the service address too.
  Shell local = Run(fmt::format("timeout 3 busybox wget -q -O - http://{}:{}/",
                                node.ServiceAddress("api"), kPort));
  CHECK(local.output == "web-1");
}

TEST_CASE("Datagrams to a service address's udp port reach its ready replicas' target port") {
  Node node;
  for (const char* replica : {"web-0", "web-1"}) node.ServeWhoOverUdp(replica, 5353);
  // Port 5353 of each replica answers (straight, before any rule).
  for (const char* replica : {"web-0", "web-1"}) {
    REQUIRE(zlayer::testing::WaitUntil([&] {
      return node.AskWho("web-c", node.Address(replica) + ":5353") == node.Address(replica);
    }));
  }
  REQUIRE(node.Apply(node.Rules({"web-0", "web-1"})).ok());
  std::multiset<std::string> answers;
  for (int i = 0; i < 20; ++i) answers.insert(node.AskWho("web-c", node.ServiceAddress("api")));
  INFO(Catch::StringMaker<std::multiset<std::string>>::convert(answers));
  CHECK(answers.count(node.Address("web-0")) > 0);
  CHECK(answers.count(node.Address("web-1")) > 0);
  CHECK(answers.count("") == 0);

  REQUIRE(node.Apply(node.Rules({"web-1"})).ok());
  for (int i = 0; i < 8; ++i) {
    CHECK(node.AskWho("web-c", node.ServiceAddress("api")) == node.Address("web-1"));
  }
}

namespace {

// Node::Rules plus web's public udp port kPublicUdpPort -> 5353 on `ready`.
NetworkRules WithPublicUdp(Node& node, const std::vector<std::string>& ready,
                           const std::string& public_address = "") {
  NetworkRules rules = node.Rules({});
  std::vector<std::string> backends;
  for (const std::string& name : ready) backends.push_back(node.Address(name));
  rules.public_udp.push_back(PublicUdpPort{.port = kPublicUdpPort,
                                           .target_port = 5353,
                                           .deployment = "web",
                                           .service = "dns",
                                           .backends = backends});
  rules.public_address = public_address;
  return rules;
}

// Which replica answers `count` questions from `from` to the node's public udp port.
std::multiset<std::string> PublicAnswers(Node& node, const std::string& from, int count) {
  std::multiset<std::string> answers;
  for (int i = 0; i < count; ++i) {
    answers.insert(node.AskWho(from, fmt::format("{}:{}", kNodeAddress, kPublicUdpPort)));
  }
  return answers;
}

// The errno of a datagram's answer to `address:port` from the node: 0 when an
// answer came, ECONNREFUSED for ICMP port unreachable, EAGAIN for silence (2 s).
int UdpOutcome(const std::string& address, int port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(::inet_pton(AF_INET, address.c_str(), &to.sin_addr) == 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  char buffer[512] = "hello";
  int outcome = 0;
  if (::send(fd, buffer, 5, 0) != 5 || ::recv(fd, buffer, sizeof buffer, 0) < 0) outcome = errno;
  ::close(fd);
  return outcome;
}

}  // namespace

TEST_CASE(
    "Datagrams to the node's public udp port reach its ready replicas from the node, a replica "
    "of the deployment, another deployment and another host") {
  Node node;
  node.AddOutsideHost();
  for (const char* replica : {"web-0", "web-1"}) node.ServeWhoOverUdp(replica, 5353);
  for (const char* replica : {"web-0", "web-1"}) {
    REQUIRE(zlayer::testing::WaitUntil([&] {
      return node.AskWho("web-c", node.Address(replica) + ":5353") == node.Address(replica);
    }));
  }
  REQUIRE(node.Apply(WithPublicUdp(node, {"web-0", "web-1"})).ok());
  // The node itself (output hook), a replica of web (hairpin), a replica of another deployment.
  for (const std::string from : {"", "web-c", "web-0", "other-0"}) {
    auto answers = PublicAnswers(node, from, 16);
    INFO("from \"" << from
                   << "\": " << Catch::StringMaker<std::multiset<std::string>>::convert(answers));
    CHECK(answers.count(node.Address("web-0")) > 0);
    CHECK(answers.count(node.Address("web-1")) > 0);
    CHECK(answers.count("") == 0);
  }
  // Another host: with dockerd's FORWARD policy (DROP) beside us, only once DNAT'd
  // traffic is accepted there too, as ruleset.h says.
  CHECK(node.AskWho("outside", fmt::format("{}:{}", kNodeAddress, kPublicUdpPort)) == "");
  REQUIRE(Run("iptables -I FORWARD -m conntrack --ctstate DNAT -j ACCEPT").status == 0);
  auto outside = PublicAnswers(node, "outside", 16);
  INFO(Catch::StringMaker<std::multiset<std::string>>::convert(outside));
  CHECK(outside.count(node.Address("web-0")) > 0);
  CHECK(outside.count(node.Address("web-1")) > 0);
  CHECK(outside.count("") == 0);

  // The node's DNS on the bridges' gateways stays the node's, whatever the port.
  CHECK_THAT(Run("nft list table ip " + node.table()).output,
             Catch::Contains("ip daddr != @deployment_subnets"));

  REQUIRE(node.Apply(WithPublicUdp(node, {"web-1"})).ok());
  for (const std::string from : {"", "web-c", "outside"}) {
    INFO(from);
    for (int i = 0; i < 6; ++i) {
      CHECK(node.AskWho(from, fmt::format("{}:{}", kNodeAddress, kPublicUdpPort)) ==
            node.Address("web-1"));
    }
  }
}

TEST_CASE(
    "A public udp port without ready replicas refuses at once, even with a listener on the node; "
    "with a public address, other addresses of the node are left alone") {
  Node node;
  node.ServeWhoOverUdp("web-0", 5353);
  // Something of the node's own listening on the port, on every address.
  const int listener = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_port = htons(kPublicUdpPort);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0);
  CHECK(UdpOutcome(kNodeAddress, kPublicUdpPort) == EAGAIN);  // received, unanswered

  REQUIRE(node.Apply(WithPublicUdp(node, {})).ok());
  const auto start = std::chrono::steady_clock::now();
  CHECK(UdpOutcome(kNodeAddress, kPublicUdpPort) == ECONNREFUSED);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));

  // With the public address set to another of the node's addresses, kNodeAddress is not public.
  REQUIRE(Run("ip addr add 192.0.2.9/24 dev zl-svctup").status == 0);
  REQUIRE(node.Apply(WithPublicUdp(node, {"web-0"}, "192.0.2.9")).ok());
  CHECK(UdpOutcome(kNodeAddress, kPublicUdpPort) == EAGAIN);
  REQUIRE(zlayer::testing::WaitUntil([&] {
    return node.AskWho("", fmt::format("192.0.2.9:{}", kPublicUdpPort)) == node.Address("web-0");
  }));
  REQUIRE(node.Apply(WithPublicUdp(node, {}, "192.0.2.9")).ok());
  CHECK(UdpOutcome("192.0.2.9", kPublicUdpPort) == ECONNREFUSED);
  CHECK(UdpOutcome(kNodeAddress, kPublicUdpPort) == EAGAIN);
  ::close(listener);
}

TEST_CASE("A service address without ready replicas, or on a port it lacks, refuses at once") {
  Node node;
  REQUIRE(node.Apply(node.Rules({})).ok());
  for (int port : {kPort, kPort + 1}) {
    INFO(port);
    const auto start = std::chrono::steady_clock::now();
    Shell fetch = node.Fetch("web-c", node.ServiceAddress("api"), port, 10);
    const auto took = std::chrono::steady_clock::now() - start;
    INFO(fetch.output);
    CHECK(fetch.status != 0);
    CHECK_THAT(fetch.output, Catch::Contains("refused"));
    CHECK(took < std::chrono::seconds(2));
  }
  // From the node itself as well.
  Shell local = Run(fmt::format("timeout 10 busybox wget -q -O - http://{}:{}/",
                                node.ServiceAddress("api"), kPort));
  CHECK_THAT(local.output, Catch::Contains("refused"));
}

TEST_CASE(
    "Another deployment reaches neither the replicas nor the service address, the deployment "
    "itself still does, and deleting the table leaves nothing behind") {
  Node node;
  // Without our table the bridges route to each other (the firewall plugin accepts).
  CHECK(node.Get("other-0", node.Address("web-0"), kTargetPort) == "web-0");

  REQUIRE(node.Apply(node.Rules({"web-0", "web-1"})).ok());
  CHECK(node.Get("other-0", node.Address("web-0"), kTargetPort, 2) == "");
  CHECK(node.Get("other-0", node.Address("web-1"), kTargetPort, 2) == "");
  CHECK(node.Get("other-0", node.ServiceAddress("api"), kPort, 2) == "");
  CHECK(node.Get("web-c", node.Address("web-0"), kTargetPort) == "web-0");
  CHECK(node.Get("web-c", node.ServiceAddress("api"), kPort) != "");

  REQUIRE(node.Apply(RenderDeleteTable(node.table())).ok());
  CHECK_THAT(Run("nft list tables").output, !Catch::Contains(node.table()));
  CHECK_THAT(Run("nft list ruleset").output, !Catch::Contains("10.234."));
  CHECK(node.Get("other-0", node.Address("web-0"), kTargetPort) == "web-0");
  // Deleting what is not there is fine too.
  CHECK(node.Apply(RenderDeleteTable(node.table()) + "\n").ok());
}

TEST_CASE(
    "A connection established through the service address keeps working after its replica "
    "leaves the ready set, while new connections go to the replicas still ready") {
  Node node;
  REQUIRE(node.Apply(node.Rules({"web-0", "web-1"})).ok());
  // Connections until one lands on web-0 (each has a one in two chance).
  std::unique_ptr<Connection> to_web0;
  for (int i = 0; i < 30 && !to_web0; ++i) {
    auto connection = std::make_unique<Connection>(node.ServiceAddress("api"), kEchoPort);
    if (connection->ReadLine() == "web-0") to_web0 = std::move(connection);
  }
  REQUIRE(to_web0);
  REQUIRE(to_web0->WriteLine("before"));
  CHECK(to_web0->ReadLine() == "before");

  REQUIRE(node.Apply(node.Rules({"web-1"})).ok());
  REQUIRE(to_web0->WriteLine("after"));
  CHECK(to_web0->ReadLine() == "after");
  for (int i = 0; i < 5; ++i) {
    Connection fresh(node.ServiceAddress("api"), kEchoPort);
    CHECK(fresh.ReadLine() == "web-1");
  }
}

TEST_CASE("nft accepts the scripts of empty rules, of overlapping subnets and of table deletion") {
  REQUIRE(::unshare(CLONE_NEWNET) == 0);
  zlayer::testing::TempDir dir;
  NetworkRules overlapping;
  overlapping.subnets = {{"old", "10.233.0.0/16"}, {"web", "10.233.1.0/24"}};
  NetworkRules public_udp;
  public_udp.public_udp = {{.port = 53, .target_port = 53, .deployment = "a", .service = "b"}};
  public_udp.public_address = "192.0.2.1";
  NetworkRules loopback_udp = public_udp;
  loopback_udp.public_address = "127.0.0.2";
  for (const NetworkRules& rules : {NetworkRules{}, overlapping, public_udp, loopback_udp}) {
    auto script = RenderRuleset("zlayer_svct", rules);
    REQUIRE(script.ok());
    std::ofstream(dir.Path("ruleset.nft")) << *script;
    Shell check = Run("nft -f " + dir.Path("ruleset.nft"));
    INFO(*script);
    INFO(check.output);
    CHECK(check.status == 0);
  }
  std::ofstream(dir.Path("delete.nft")) << RenderDeleteTable("zlayer_svct");
  CHECK(Run("nft -f " + dir.Path("delete.nft")).status == 0);
  CHECK(Run("nft list ruleset").output.empty());
}

TEST_CASE(
    "A loopback public address (nodes side by side) answers from the node itself once "
    "route_localnet is on") {
  Node node;
  node.ServeWhoOverUdp("web-0", 5353);
  REQUIRE(zlayer::testing::WaitUntil([&] {
    return node.AskWho("web-c", node.Address("web-0") + ":5353") == node.Address("web-0");
  }));
  REQUIRE(Run("ip addr add 127.0.0.2/8 dev lo").status == 0);
  // Per network namespace: the test's own.
  REQUIRE(Run("sysctl -qw net.ipv4.conf.all.route_localnet=1").status == 0);
  REQUIRE(node.Apply(WithPublicUdp(node, {"web-0"}, "127.0.0.2")).ok());
  for (int i = 0; i < 4; ++i) {
    CHECK(node.AskWho("", fmt::format("127.0.0.2:{}", kPublicUdpPort)) == node.Address("web-0"));
  }
  REQUIRE(node.Apply(WithPublicUdp(node, {}, "127.0.0.2")).ok());
  CHECK(UdpOutcome("127.0.0.2", kPublicUdpPort) == ECONNREFUSED);
}
