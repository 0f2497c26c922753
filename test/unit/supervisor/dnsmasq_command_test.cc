#include "supervisor/dnsmasq_command.h"

#include <algorithm>
#include <catch2/catch.hpp>

using zlayer::NodeConfig;
using zlayer::init::DnsmasqArgv;
using zlayer::init::DnsmasqCommand;
using zlayer::init::DnsmasqCommandFor;

namespace {

bool Has(const std::vector<std::string>& argv, const std::string& arg) {
  return std::find(argv.begin(), argv.end(), arg) != argv.end();
}

}  // namespace

TEST_CASE("dnsmasq serves the agent's hosts directory on the node's bridges only") {
  NodeConfig config;
  config.run_dir = "/tmp/zl-1/run";
  config.network_cidr = "10.231.0.0/16";
  auto command = DnsmasqCommandFor(config, "/usr/sbin/dnsmasq");
  REQUIRE(command.ok());
  CHECK(command->hosts_dir == "/tmp/zl-1/run/dns/hosts");
  CHECK(command->interface_prefix == "zl0ae7");

  auto argv = DnsmasqArgv(*command);
  CHECK(argv.front() == "/usr/sbin/dnsmasq");
  CHECK(Has(argv, "--hostsdir=/tmp/zl-1/run/dns/hosts"));
  CHECK(Has(argv, "--no-hosts"));
  // Only the bridges' addresses, also of bridges made later; never lo or 0.0.0.0.
  CHECK(Has(argv, "--bind-dynamic"));
  CHECK(Has(argv, "--interface=zl0ae7*"));
  CHECK(Has(argv, "--except-interface=lo"));
  CHECK_FALSE(std::any_of(argv.begin(), argv.end(), [](const std::string& a) {
    return a.starts_with("--listen-address") || a == "--bind-interfaces";
  }));
}

TEST_CASE(
    "dnsmasq keeps the cluster domain to itself and forwards the rest to the node's "
    "resolvers") {
  auto command = DnsmasqCommandFor(NodeConfig{}, "dnsmasq");
  REQUIRE(command.ok());
  auto argv = DnsmasqArgv(*command);
  CHECK(Has(argv, "--local=/zlayer.internal/"));
  CHECK(Has(argv, "--domain-needed"));
  CHECK(Has(argv, "--resolv-file=/etc/resolv.conf"));
}

TEST_CASE("dnsmasq runs in the foreground, logs on stderr and leaves pid files to zlayer-init") {
  auto argv = DnsmasqArgv(DnsmasqCommandFor(NodeConfig{}, "dnsmasq").value());
  CHECK(Has(argv, "--keep-in-foreground"));
  CHECK(Has(argv, "--log-facility=-"));
  CHECK(Has(argv, "--pid-file="));
  CHECK(Has(argv, "--conf-file=/dev/null"));
  CHECK(Has(argv, "--user=root"));
  CHECK_FALSE(std::any_of(argv.begin(), argv.end(),
                          [](const std::string& a) { return a.starts_with("--port"); }));
}

TEST_CASE("A test may move dnsmasq to another port and other resolvers") {
  DnsmasqCommand command{.program = "dnsmasq",
                         .hosts_dir = "/h",
                         .interface_prefix = "zl0a",
                         .resolv_file = "/tmp/resolv",
                         .port = 5353};
  auto argv = DnsmasqArgv(command);
  CHECK(Has(argv, "--port=5353"));
  CHECK(Has(argv, "--resolv-file=/tmp/resolv"));
}

TEST_CASE("A network range that does not parse is an error naming the variable") {
  NodeConfig config;
  config.network_cidr = "nonsense";
  auto command = DnsmasqCommandFor(config, "dnsmasq");
  REQUIRE_FALSE(command.ok());
  CHECK_THAT(command.status().message(), Catch::Contains("ZLAYER_NETWORK_CIDR"));
}
