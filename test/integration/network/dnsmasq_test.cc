// The containers' names against the real DNS server: Debian's dnsmasq run with
// zlayer-init's command line (supervisor/dnsmasq_command.h), answering from the
// files HostsDirRecords writes, queried with busybox nslookup and with glibc's
// resolver reading ContainerResolvConf. Needs root and dnsmasq
// (scripts/install-deps.sh installs dnsmasq-base).
//
// Each case works in a network namespace of its own, with bridges named like
// the node's, so nothing is visible to the host or to other tests, and port 53
// is free there. A second dnsmasq on 127.0.0.1 plays the node's resolver:
// it answers external.test and, as a trap, every name under zlayer.internal.
#include <sched.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "agent/network/dns/dns_records.h"
#include "agent/network/dns/hosts_dir_records.h"
#include "common/ipv4_cidr.h"
#include "common/network_names.h"
#include "supervisor/dnsmasq_command.h"
#include "test/support/child_process.h"
#include "test/support/files.h"
#include "test/support/network/private_network.h"
#include "test/support/temp_dir.h"
#include "test/support/wait_until.h"

using namespace zlayer::agent::network;
using zlayer::Ipv4Cidr;
using zlayer::testing::ChildProcess;
using zlayer::testing::ReadFile;
using zlayer::testing::SpawnOptions;
using zlayer::testing::TempDir;
using zlayer::testing::WaitUntil;
using zlayer::testing::WriteFile;

namespace {

// Unique to this test (cni_bridge_test uses 10.231.0.0/16).
constexpr const char* kRange = "10.232.0.0/16";
constexpr const char* kGateway = "10.232.1.1";
constexpr const char* kUpstreamAnswer = "192.0.2.7";
constexpr const char* kTrapAnswer = "192.0.2.99";

using Shell = zlayer::testing::ShellResult;
Shell Run(const std::string& command) { return zlayer::testing::RunShell(command); }

std::string DnsmasqProgram() {
  Shell found = Run("command -v dnsmasq || ls /usr/sbin/dnsmasq");
  INFO("dnsmasq is needed: scripts/install-deps.sh installs dnsmasq-base");
  REQUIRE(found.status == 0);
  std::string path = found.output;
  while (!path.empty() && path.back() == '\n') path.pop_back();
  return path;
}

void AddBridge(const std::string& name, const std::string& address) {
  REQUIRE(Run("ip link add " + name + " type bridge").status == 0);
  REQUIRE(Run("ip addr add " + address + "/24 dev " + name).status == 0);
  REQUIRE(Run("ip link set " + name + " up").status == 0);
}

// "nslookup NAME SERVER" (busybox): the A record's addresses, or "" when none.
std::string Lookup(const std::string& name, const std::string& server) {
  Shell shell = Run("busybox nslookup -type=a " + name + " " + server);
  std::string addresses;
  size_t pos = shell.output.find("Name:");
  while (pos != std::string::npos) {
    size_t line = shell.output.find("Address:", pos);
    if (line == std::string::npos) break;
    size_t end = shell.output.find('\n', line);
    std::string address = shell.output.substr(line + 8, end - line - 8);
    address.erase(0, address.find_first_not_of(" \t"));
    if (!addresses.empty()) addresses += " ";
    addresses += address;
    pos = shell.output.find("Name:", end);
  }
  return addresses;
}

// The local addresses of UDP sockets on port 53 in this thread's network namespace.
std::vector<std::string> Udp53Listeners() {
  std::vector<std::string> found;
  for (const std::string& line : zlayer::testing::ReadLines("/proc/thread-self/net/udp")) {
    auto words = zlayer::testing::SplitWords(line);
    if (words.size() > 1 && words[1].ends_with(":0035")) found.push_back(words[1]);
  }
  return found;
}

class DnsHarness {
 public:
  DnsHarness() {
    REQUIRE(::unshare(CLONE_NEWNET) == 0);
    REQUIRE(Run("ip link set lo up").status == 0);
    auto range = Ipv4Cidr::Parse(kRange);
    REQUIRE(range.ok());
    bridge_ = zlayer::BridgeName(Ipv4Cidr::Parse("10.232.1.0/24").value());
    AddBridge(bridge_, kGateway);

    WriteFile(dir_ / "resolv.conf", "nameserver 127.0.0.1\n");
    zlayer::init::DnsmasqCommand command{.program = DnsmasqProgram(),
                                         .hosts_dir = dir_ / "run/dns/hosts",
                                         .interface_prefix = zlayer::BridgePrefix(*range),
                                         .resolv_file = dir_ / "resolv.conf"};
    REQUIRE(Run("mkdir -p " + command.hosts_dir).status == 0);
    hosts_dir_ = command.hosts_dir;
    dnsmasq_ =
        std::make_unique<ChildProcess>(SpawnOptions{.argv = zlayer::init::DnsmasqArgv(command),
                                                    .stdout_path = dir_ / "dnsmasq.log",
                                                    .stderr_path = dir_ / "dnsmasq.log"});
    INFO("dnsmasq's log: " << ReadFile(dir_ / "dnsmasq.log"));
    REQUIRE(WaitUntil([] { return !Udp53Listeners().empty(); }));
    listeners_at_start_ = Udp53Listeners();

    // The node's resolver, started after ours: 127.0.0.1:53 must still be free.
    upstream_ = std::make_unique<ChildProcess>(
        SpawnOptions{.argv = {command.program, "--keep-in-foreground", "--conf-file=/dev/null",
                              "--log-facility=-", "--pid-file=", "--user=root", "--no-hosts",
                              "--no-resolv", "--listen-address=127.0.0.1", "--bind-interfaces",
                              std::string("--address=/external.test/") + kUpstreamAnswer,
                              std::string("--address=/zlayer.internal/") + kTrapAnswer},
                     .stdout_path = dir_ / "upstream.log",
                     .stderr_path = dir_ / "upstream.log"});
    INFO("upstream's log: " << ReadFile(dir_ / "upstream.log"));
    REQUIRE(WaitUntil([] { return Lookup("external.test", "127.0.0.1") == kUpstreamAnswer; }));
  }

  ~DnsHarness() {
    if (dnsmasq_) dnsmasq_->KillTree();
    if (upstream_) upstream_->KillTree();
  }

  const TempDir& dir() const { return dir_; }
  const std::string& hosts_dir() const { return hosts_dir_; }
  const std::vector<std::string>& listeners_at_start() const { return listeners_at_start_; }
  std::string Log() const { return ReadFile(dir_ / "dnsmasq.log"); }

 private:
  TempDir dir_;
  std::string bridge_;
  std::string hosts_dir_;
  std::unique_ptr<ChildProcess> dnsmasq_;
  std::unique_ptr<ChildProcess> upstream_;
  std::vector<std::string> listeners_at_start_;
};

std::vector<DnsRecord> ShopRecords() {
  return DeploymentDnsRecords("shop", {{"web", "10.201.0.7"}},
                              {{"web", 0, "10.232.1.2"}, {"web", 1, "10.232.1.3"}});
}

}  // namespace

TEST_CASE(
    "dnsmasq listens on the node's bridges only, never on lo or every address, so nodes and a "
    "resolver of the host's fit beside it") {
  DnsHarness h;
  INFO("dnsmasq's log: " << h.Log());
  // 10.232.1.1 is 0101E80A in /proc/net/udp's byte order.
  CHECK(h.listeners_at_start() == std::vector<std::string>{"0101E80A:0035"});
}

TEST_CASE(
    "Names written by HostsDirRecords resolve at once, to the service's address and each "
    "replica's own, and are gone once dropped") {
  DnsHarness h;
  INFO("dnsmasq's log: " << h.Log());
  HostsDirRecords records(h.hosts_dir());
  REQUIRE(records.SetDeployment("shop", ShopRecords()).ok());

  CHECK(WaitUntil([] { return Lookup("web.shop.zlayer.internal", kGateway) == "10.201.0.7"; }));
  CHECK(Lookup("0.web.shop.zlayer.internal", kGateway) == "10.232.1.2");
  CHECK(Lookup("1.web.shop.zlayer.internal", kGateway) == "10.232.1.3");

  INFO("a replica goes: its name goes, the others stay");
  REQUIRE(records
              .SetDeployment("shop", DeploymentDnsRecords("shop", {{"web", "10.201.0.7"}},
                                                          {{"web", 0, "10.232.1.2"}}))
              .ok());
  CHECK(WaitUntil([] { return Lookup("1.web.shop.zlayer.internal", kGateway).empty(); }));
  CHECK(Lookup("web.shop.zlayer.internal", kGateway) == "10.201.0.7");

  INFO("the deployment goes: every name goes, without a SIGHUP");
  REQUIRE(records.SetDeployment("shop", {}).ok());
  CHECK(WaitUntil([] { return Lookup("web.shop.zlayer.internal", kGateway).empty(); }));
  CHECK(Lookup("0.web.shop.zlayer.internal", kGateway).empty());
  CHECK(records.Deployments().value().empty());
}

TEST_CASE(
    "Names under zlayer.internal that no file holds are not forwarded, and other names go to the "
    "node's resolvers") {
  DnsHarness h;
  INFO("dnsmasq's log: " << h.Log());
  CHECK(Lookup("external.test", kGateway) == kUpstreamAnswer);
  CHECK(Lookup("nothere.shop.zlayer.internal", kGateway).empty());  // not the trap's answer
}

TEST_CASE("A container's resolv.conf makes `web` and `0.web` resolve within its deployment") {
  DnsHarness h;
  INFO("dnsmasq's log: " << h.Log());
  HostsDirRecords records(h.hosts_dir());
  REQUIRE(records.SetDeployment("shop", ShopRecords()).ok());
  REQUIRE(WaitUntil([] { return !Lookup("web.shop.zlayer.internal", kGateway).empty(); }));

  WriteFile(h.dir() / "container-resolv.conf", ContainerResolvConf(kGateway, "shop"));
  // glibc's resolver (search list, ndots) in a mount namespace whose
  // /etc/resolv.conf is the container's.
  auto resolve = [&](const std::string& name) {
    return Run("unshare -m sh -c 'mount --bind " + h.dir() / "container-resolv.conf" +
               " /etc/resolv.conf && getent ahostsv4 " + name + "'")
        .output;
  };
  std::string web = resolve("web");
  INFO(web);
  CHECK_THAT(web, Catch::StartsWith("10.201.0.7 "));
  CHECK_THAT(web, Catch::Contains("web.shop.zlayer.internal"));
  std::string replica = resolve("0.web");
  INFO(replica);
  CHECK_THAT(replica, Catch::StartsWith("10.232.1.2 "));
  std::string external = resolve("external.test");
  INFO(external);
  CHECK_THAT(external, Catch::StartsWith(std::string(kUpstreamAnswer) + " "));
}

TEST_CASE("A deployment bridge made after dnsmasq started is served too") {
  DnsHarness h;
  INFO("dnsmasq's log: " << h.Log());
  HostsDirRecords records(h.hosts_dir());
  REQUIRE(records.SetDeployment("shop", ShopRecords()).ok());
  AddBridge(zlayer::BridgeName(Ipv4Cidr::Parse("10.232.2.0/24").value()), "10.232.2.1");
  CHECK(WaitUntil([] { return Lookup("web.shop.zlayer.internal", "10.232.2.1") == "10.201.0.7"; }));
}
