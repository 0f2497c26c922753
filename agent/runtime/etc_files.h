// The contents of the /etc/hosts, /etc/resolv.conf and /etc/hostname files the agent writes
// for each container and bind-mounts read-only over the image's own (ReplicaContext in
// runtime_spec.h holds their host paths). A container on the node's network
// (network_mode host) resolves names as the node does; one on its deployment's network
// asks the node's DNS server (dnsmasq) on its bridge's gateway.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace zlayer::runtime {

// localhost (IPv4 and IPv6), the usual ip6-* names, and `hostname` on 127.0.1.1 (Debian's
// convention) so that the container resolves its own name without DNS.
// With `address` (the replica's own), the hostname maps to it instead.
std::string RenderHostsFile(std::string_view hostname, std::string_view address = "");

// The node's resolv.conf unchanged, newline-terminated. With host networking a loopback
// resolver (127.0.0.53) on the node is reachable from the container too, so nothing is
// dropped.
std::string RenderResolvConf(std::string_view node_resolv_conf);
// (A replica on its deployment's network gets agent/network/dns's ContainerResolvConf.)

// "<hostname>\n".
std::string RenderHostnameFile(std::string_view hostname);

}  // namespace zlayer::runtime
