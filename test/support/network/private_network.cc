#include "test/support/network/private_network.h"

#include <sched.h>

#include <catch2/catch.hpp>
#include <cstdio>

#include "test/support/files.h"

namespace zlayer::testing {

ShellResult RunShell(const std::string& command) {
  ShellResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) result.output.append(buffer, n);
  result.status = ::pclose(pipe);
  return result;
}

void EnterPrivateNetworkLikeDockerHost() {
  REQUIRE(::unshare(CLONE_NEWNET) == 0);
  REQUIRE(RunShell("ip link set lo up").status == 0);
  if (!FileExists("/proc/sys/net/bridge/bridge-nf-call-iptables")) {
    RunShell("modprobe br_netfilter");
  }
  // br_netfilter's switches are per network namespace since Linux 5.3.
  CHECK(RunShell("echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables").status == 0);
  CHECK(RunShell("echo 1 > /proc/sys/net/ipv4/ip_forward").status == 0);
  REQUIRE(RunShell("iptables -P FORWARD DROP").status == 0);
}

}  // namespace zlayer::testing
