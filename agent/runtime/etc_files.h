// The contents of the /etc/hosts, /etc/resolv.conf and /etc/hostname files the agent writes
// for each container and bind-mounts read-only over the image's own (ReplicaContext in
// runtime_spec.h holds their host paths). Containers share the node's network namespace,
// so names resolve as on the node.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace zlayer::runtime {

// localhost (IPv4 and IPv6), the usual ip6-* names, and `hostname` on 127.0.1.1 (Debian's
// convention) so that the container resolves its own name without DNS.
std::string RenderHostsFile(std::string_view hostname);

// The node's resolv.conf unchanged, newline-terminated. With host networking a loopback
// resolver (127.0.0.53) on the node is reachable from the container too, so nothing is
// dropped.
std::string RenderResolvConf(std::string_view node_resolv_conf);

// "<hostname>\n".
std::string RenderHostnameFile(std::string_view hostname);

}  // namespace zlayer::runtime
