// NetworkManager against the real thing: network namespaces, Debian's CNI
// plugins (/usr/lib/cni), ip. Needs root. Each test case moves its thread into
// a network namespace of its own first (the bridges it makes stay there).
#include "agent/network/network_manager.h"

#include <sys/mount.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>

#include "agent/network/netns.h"
#include "agent/network/subnet_allocator.h"
#include "common/network_names.h"
#include "common/process_runner.h"
#include "test/support/network/private_network.h"
#include "test/support/temp_dir.h"

using zlayer::AsioProcessRunner;
using zlayer::Ipv4Cidr;
using zlayer::Result;
using zlayer::Status;
using namespace zlayer::agent::network;

namespace {

// Unique to this test so it could share a namespace with others.
constexpr const char* kRange = "10.232.0.0/16";

using zlayer::testing::RunShell;

// One agent's network manager over the directories of `dir`: what the agent
// opens at each of its starts.
class Agent {
 public:
  explicit Agent(const zlayer::testing::TempDir& dir) : runner_(io_), dir_(dir) {
    auto subnets = FileSubnetAllocator::Open(dir.Path("data/network/subnets.json"), Range());
    REQUIRE(subnets.ok());
    NetworkManagerOptions options;
    options.data_dir = dir.Path("data");
    options.run_dir = dir.Path("run");
    options.range = Range();
    options.invoker.timeout = std::chrono::seconds(20);
    auto manager =
        NetworkManager::Open(io_, files_, runner_, std::move(*subnets), std::move(options), log_);
    REQUIRE(manager.ok());
    manager_ = std::move(*manager);
  }
  ~Agent() {
    manager_.reset();
    files_.join();
  }

  static Ipv4Cidr Range() { return *Ipv4Cidr::Parse(kRange); }

  Result<Attachment> Attach(const std::string& id, const std::string& deployment) {
    std::optional<Result<Attachment>> outcome;
    manager_->Attach(id, deployment, AttachMode::kBridge,
                     [&](Result<Attachment> r) { outcome = std::move(r); });
    Settle();
    REQUIRE(outcome.has_value());
    return std::move(*outcome);
  }
  Status Detach(const std::string& id) {
    std::optional<Status> outcome;
    manager_->Detach(id, [&](Status s) { outcome = s; });
    Settle();
    REQUIRE(outcome.has_value());
    return *outcome;
  }
  NetworkManager& manager() { return *manager_; }

 private:
  void Settle() {
    io_.restart();
    io_.run();
  }

  boost::asio::io_context io_;
  boost::asio::thread_pool files_{2};
  AsioProcessRunner runner_;
  zlayer::Logger log_{"network-manager-test", zlayer::LogLevel::kWarn};
  const zlayer::testing::TempDir& dir_;
  std::unique_ptr<NetworkManager> manager_;
};

// What a restart of the node's container does to a replica's network: the
// namespace's bind mount goes (the file stays, empty), and with it the
// container's end of the veth; the bridge goes with the node's own namespace.
void LoseNamespaceAndBridge(const Attachment& a) {
  REQUIRE(::umount2(a.netns.c_str(), MNT_DETACH) == 0);
  RunShell("ip link delete " + BridgeName(*Ipv4Cidr::Parse(a.subnet)));
}

}  // namespace

TEST_CASE(
    "A replica whose namespace a node restart lost gets a new one with the same address, "
    "reachable through its bridge again") {
  zlayer::testing::EnterPrivateNetworkLikeDockerHost();
  zlayer::testing::TempDir dir;
  Attachment before;
  {
    Agent agent(dir);
    auto attached = agent.Attach("nmtest-web-0", "web");
    REQUIRE(attached.ok());
    before = *attached;
    // A second replica takes the next address, so a fresh attach of the first
    // could not get its old one back by chance.
    REQUIRE(agent.Attach("nmtest-web-1", "web").ok());
  }
  LoseNamespaceAndBridge(before);
  Netns netns(dir.Path("run"));
  REQUIRE_FALSE(netns.IsNamespace("nmtest-web-0"));

  Agent agent(dir);  // the agent of the restarted node
  auto restored = agent.Attach("nmtest-web-0", "web");
  REQUIRE(restored.ok());
  CHECK(restored->address == before.address);
  CHECK(restored->netns == before.netns);
  CHECK(netns.IsNamespace("nmtest-web-0"));
  CHECK(RunShell("nsenter --net=" + restored->netns + " ip -o -4 addr show eth0")
            .output.find(before.address + "/24") != std::string::npos);
  CHECK(
      RunShell("nsenter --net=" + restored->netns + " busybox ping -c 1 -W 2 " + restored->gateway)
          .status == 0);

  SECTION("and its record on disk is the restored one: the next agent adopts it as it is") {
    Agent next(dir);
    const Attachment* kept = next.manager().Find("nmtest-web-0");
    REQUIRE(kept != nullptr);
    CHECK(kept->address == before.address);
    auto again = next.Attach("nmtest-web-0", "web");
    REQUIRE(again.ok());
    CHECK(again->cni_result == kept->cni_result);  // no plugin ran: the same ADD result
  }
  CHECK(agent.Detach("nmtest-web-0").ok());
  CHECK(agent.Detach("nmtest-web-1").ok());
}

TEST_CASE("A live namespace is used as it is: a second attach runs no plugin") {
  zlayer::testing::EnterPrivateNetworkLikeDockerHost();
  zlayer::testing::TempDir dir;
  Agent agent(dir);
  auto first = agent.Attach("nmtest-api-0", "api");
  REQUIRE(first.ok());
  auto second = agent.Attach("nmtest-api-0", "api");
  REQUIRE(second.ok());
  CHECK(second->cni_result == first->cni_result);
  CHECK(second->address == first->address);
  CHECK(agent.Detach("nmtest-api-0").ok());
}
