// The network pieces against the real thing: network namespaces, Debian's CNI
// plugins (/usr/lib/cni: bridge, host-local, firewall, loopback), iptables.
// Needs root.
//
// Each test case moves its thread into a network namespace of its own first, so
// the bridge, veths and iptables rules it makes are invisible to other tests
// and to the host, and it can reproduce what dockerd does beside us (FORWARD
// policy DROP with br_netfilter on) without touching the host.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "agent/network/cni/cni_invoker.h"
#include "agent/network/netns.h"
#include "agent/network/subnet_allocator.h"
#include "common/process_runner.h"
#include "test/support/files.h"
#include "test/support/network/private_network.h"
#include "test/support/temp_dir.h"
#include "test/support/wait_until.h"

using nlohmann::json;
using zlayer::AsioProcessRunner;
using zlayer::Result;
using zlayer::Status;
using namespace zlayer::agent::network;
using namespace zlayer::agent::network::cni;

namespace {

// Unique to this test so it could share a namespace with others.
constexpr const char* kRange = "10.231.0.0/16";
constexpr const char* kBridge = "zl-cnit0";
constexpr const char* kNetwork = "zl-cnitest";

using Shell = zlayer::testing::ShellResult;
Shell Run(const std::string& command) { return zlayer::testing::RunShell(command); }

using zlayer::testing::EnterPrivateNetworkLikeDockerHost;

class Harness {
 public:
  Harness()
      : runner_(io_),
        invoker_(runner_, InvokerOptions{.plugin_dirs = {"/usr/lib/cni"},
                                         .timeout = std::chrono::seconds(20)}),
        netns_(dir_.Path("run")) {}

  Result<CniResult> Add(const NetworkList& list, const Attachment& attachment) {
    std::optional<Result<CniResult>> outcome;
    invoker_.Add(list, attachment, [&](Result<CniResult> r) { outcome = std::move(r); });
    Drain();
    REQUIRE(outcome.has_value());
    return std::move(*outcome);
  }
  Status Check(const NetworkList& list, const Attachment& attachment, const json& add_result) {
    std::optional<Status> outcome;
    invoker_.Check(list, attachment, add_result, [&](Status s) { outcome = s; });
    Drain();
    REQUIRE(outcome.has_value());
    return *outcome;
  }
  Status Del(const NetworkList& list, const Attachment& attachment, const json& add_result) {
    std::optional<Status> outcome;
    invoker_.Del(list, attachment, add_result, [&](Status s) { outcome = s; });
    Drain();
    REQUIRE(outcome.has_value());
    return *outcome;
  }

  const zlayer::testing::TempDir& dir() const { return dir_; }
  Netns& netns() { return netns_; }

 private:
  void Drain() {
    io_.restart();
    io_.run();
  }

  zlayer::testing::TempDir dir_;
  boost::asio::io_context io_;
  AsioProcessRunner runner_;
  Invoker invoker_;
  Netns netns_;
};

// Files host-local keeps per reserved address: named by the address.
int IpamReservations(const std::string& dir) {
  int count = 0;
  if (!std::filesystem::exists(dir)) return 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().filename().string().rfind("10.231.", 0) == 0) ++count;
  }
  return count;
}

std::string Mountinfo() { return zlayer::testing::ReadFile("/proc/self/mountinfo"); }

}  // namespace

TEST_CASE(
    "Two namespaces on one deployment bridge get addresses and routes, reach each other "
    "beside dockerd's FORWARD drop, pass CHECK, and leave nothing behind after DEL") {
  EnterPrivateNetworkLikeDockerHost();
  Harness h;
  const std::string ipam_dir = h.dir().Path("data/network/ipam");

  auto range = Ipv4Cidr::Parse(kRange);
  REQUIRE(range.ok());
  auto allocator = FileSubnetAllocator::Open(h.dir().Path("data/network/subnets.json"), *range);
  REQUIRE(allocator.ok());
  auto subnet = (*allocator)->Allocate("cnitest");
  REQUIRE(subnet.ok());
  CHECK(*subnet == "10.231.0.0/24");

  NetworkList bridge = BridgeNetworkList(BridgeNetwork{
      .name = kNetwork, .bridge = kBridge, .subnet = *subnet, .ipam_data_dir = ipam_dir});
  NetworkList loopback = LoopbackNetworkList();

  struct Replica {
    std::string name;
    std::string netns;
    json eth0_result;
    json lo_result;
    std::string address;
  };
  Replica replicas[2] = {{.name = "cnitest-0"}, {.name = "cnitest-1"}};

  for (Replica& r : replicas) {
    auto path = h.netns().Create(r.name);
    REQUIRE(path.ok());
    r.netns = *path;
    auto lo = h.Add(loopback, {.container_id = r.name, .netns = r.netns, .ifname = "lo"});
    REQUIRE(lo.ok());
    r.lo_result = lo->raw;
    auto eth0 = h.Add(bridge, {.container_id = r.name, .netns = r.netns, .ifname = "eth0"});
    INFO(eth0.status().message());
    REQUIRE(eth0.ok());
    r.eth0_result = eth0->raw;
    r.address = eth0->AddressOf("eth0");
    CHECK(r.address.rfind("10.231.0.", 0) == 0);
    REQUIRE(eth0->ips.size() == 1);
    CHECK(eth0->ips[0].gateway == "10.231.0.1");
  }
  CHECK(replicas[0].address != replicas[1].address);

  for (const Replica& r : replicas) {
    INFO(r.name);
    const std::string enter = "nsenter --net=" + r.netns + " ";
    Shell addr = Run(enter + "ip -4 -o addr show dev eth0");
    CHECK(addr.status == 0);
    CHECK_THAT(addr.output, Catch::Contains("inet " + r.address + "/24"));
    Shell route = Run(enter + "ip -4 route show default");
    CHECK_THAT(route.output, Catch::Contains("default via 10.231.0.1 dev eth0"));
    Shell lo = Run(enter + "ip -o link show dev lo");
    CHECK_THAT(lo.output, Catch::Contains("UP"));
  }

  // Through the bridge, with FORWARD's policy DROP: the firewall plugin's accept.
  Shell ping =
      Run("nsenter --net=" + replicas[0].netns + " busybox ping -c 1 -W 3 " + replicas[1].address);
  INFO(ping.output);
  CHECK(ping.status == 0);

  for (const Replica& r : replicas) {
    CHECK(
        h.Check(bridge, {.container_id = r.name, .netns = r.netns, .ifname = "eth0"}, r.eth0_result)
            .ok());
  }
  CHECK(IpamReservations(ipam_dir) == 2);

  for (const Replica& r : replicas) {
    Status del =
        h.Del(bridge, {.container_id = r.name, .netns = r.netns, .ifname = "eth0"}, r.eth0_result);
    INFO(del.message());
    CHECK(del.ok());
    CHECK(h.Del(loopback, {.container_id = r.name, .netns = r.netns, .ifname = "lo"}, r.lo_result)
              .ok());
    CHECK(h.netns().Remove(r.name).ok());
    CHECK(h.netns().Remove(r.name).ok());  // idempotent
  }

  CHECK(Run("ip -o link show type veth").output.empty());
  CHECK(IpamReservations(ipam_dir) == 0);
  auto left = h.netns().List();
  REQUIRE(left.ok());
  CHECK(left->empty());
  CHECK_THAT(Mountinfo(), !Catch::Contains(h.dir().Path("run/netns/cnitest")));
  CHECK(Run("iptables -S | grep -c 10.231.0.").output == "0\n");
  CHECK(Run("iptables -t nat -S | grep -c 10.231.0.").output == "0\n");

  REQUIRE((*allocator)->Release("cnitest").ok());
  CHECK((*allocator)->Allocations().empty());
}

TEST_CASE("DEL of an attachment whose namespace is already gone still releases its address") {
  EnterPrivateNetworkLikeDockerHost();
  Harness h;
  const std::string ipam_dir = h.dir().Path("data/network/ipam");
  NetworkList bridge = BridgeNetworkList(BridgeNetwork{
      .name = kNetwork, .bridge = kBridge, .subnet = "10.231.1.0/24", .ipam_data_dir = ipam_dir});
  auto path = h.netns().Create("cnitest-gone");
  REQUIRE(path.ok());
  Attachment attachment{.container_id = "cnitest-gone", .netns = *path, .ifname = "eth0"};
  auto added = h.Add(bridge, attachment);
  REQUIRE(added.ok());
  CHECK(IpamReservations(ipam_dir) == 1);

  // A crash between the namespace's removal and DEL: the namespace (and its veth) is gone.
  REQUIRE(h.netns().Remove("cnitest-gone").ok());
  Status del = h.Del(bridge, attachment, json());
  INFO(del.message());
  CHECK(del.ok());
  CHECK(IpamReservations(ipam_dir) == 0);
  // The kernel dismantles an unreferenced namespace, and the veth pair with it, in the
  // background.
  CHECK(zlayer::testing::WaitUntil([] { return Run("ip -o link show type veth").output.empty(); }));
}

TEST_CASE("A real plugin's error names the plugin, the command and the container") {
  EnterPrivateNetworkLikeDockerHost();
  Harness h;
  auto path = h.netns().Create("cnitest-bad");
  REQUIRE(path.ok());
  NetworkList bad = BridgeNetworkList(BridgeNetwork{.name = kNetwork,
                                                    .bridge = kBridge,
                                                    .subnet = "not-a-subnet",
                                                    .ipam_data_dir = h.dir().Path("ipam")});
  auto added = h.Add(bad, {.container_id = "cnitest-bad", .netns = *path, .ifname = "eth0"});
  REQUIRE_FALSE(added.ok());
  CHECK_THAT(added.status().message(), Catch::StartsWith("cni bridge ADD for cnitest-bad: "));
  CHECK_THAT(added.status().message(), Catch::Contains("(code "));
  CHECK(h.netns().Remove("cnitest-bad").ok());
}

TEST_CASE("A namespace that exists is not created again, and a bad name is refused") {
  Harness h;
  auto first = h.netns().Create("cnitest-twice");
  REQUIRE(first.ok());
  auto second = h.netns().Create("cnitest-twice");
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == zlayer::StatusCode::kAlreadyExists);
  CHECK(h.netns().Create("../escape").status().code() == zlayer::StatusCode::kInvalidArgument);
  // The file is a namespace: ip can enter it.
  CHECK(Run("nsenter --net=" + *first + " ip -o link show lo").status == 0);
  CHECK(h.netns().Remove("cnitest-twice").ok());
  CHECK_FALSE(zlayer::testing::FileExists(*first));
}

TEST_CASE(
    "Beside dockerd's FORWARD drop, an accept in an nftables table of our own does not let "
    "bridged traffic through (why the firewall plugin is chained)") {
  EnterPrivateNetworkLikeDockerHost();
  Harness h;
  BridgeNetwork network{.name = kNetwork,
                        .bridge = kBridge,
                        .subnet = "10.231.2.0/24",
                        .ipam_data_dir = h.dir().Path("ipam")};
  network.accept_forward = false;
  NetworkList bridge = BridgeNetworkList(network);
  std::string paths[2], addresses[2];
  json results[2];
  for (int i = 0; i < 2; ++i) {
    const std::string name = "cnitest-nft-" + std::to_string(i);
    auto path = h.netns().Create(name);
    REQUIRE(path.ok());
    paths[i] = *path;
    auto added = h.Add(bridge, {.container_id = name, .netns = paths[i], .ifname = "eth0"});
    REQUIRE(added.ok());
    results[i] = added->raw;
    addresses[i] = added->AddressOf("eth0");
  }
  REQUIRE(Run("nft add table inet zlayer && nft add chain inet zlayer forward "
              "'{ type filter hook forward priority filter - 1; policy accept; }' && "
              "nft add rule inet zlayer forward iifname zl-cnit0 accept")
              .status == 0);
  CHECK(Run("nsenter --net=" + paths[0] + " busybox ping -c 1 -W 1 " + addresses[1]).status != 0);
  for (int i = 0; i < 2; ++i) {
    const std::string name = "cnitest-nft-" + std::to_string(i);
    CHECK(h.Del(bridge, {.container_id = name, .netns = paths[i], .ifname = "eth0"}, results[i])
              .ok());
    CHECK(h.netns().Remove(name).ok());
  }
}
