// For integration tests of the node's networking with the real tools (ip,
// iptables, nft, CNI plugins): shell commands, and a private network namespace
// for the calling thread set up like a host where dockerd runs.
#pragma once

#include <string>

namespace zlayer::testing {

struct ShellResult {
  int status = -1;     // as pclose(3) returns it: 0 for success
  std::string output;  // stdout and stderr
};

// Runs `command` with sh -c (stderr merged into stdout) in the calling thread's
// network namespace.
ShellResult RunShell(const std::string& command);

// Moves the calling thread into a new network namespace with `lo` up, set up
// like a host where dockerd runs: bridged traffic goes through netfilter
// (br_netfilter on), forwarding is on, and iptables' FORWARD policy is DROP.
// Fails the test (REQUIRE) when it cannot.
void EnterPrivateNetworkLikeDockerHost();

}  // namespace zlayer::testing
