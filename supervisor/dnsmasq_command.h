// How zlayer-init runs dnsmasq, the DNS server of the containers' names
// (<service>.<deployment>.zlayer.internal, see agent/network/dns/).
//
// dnsmasq answers from the hosts files the agent keeps in --hostsdir (reread
// through inotify, no restart), says NXDOMAIN for any other name under
// zlayer.internal, and forwards everything else to the node's resolvers
// (/etc/resolv.conf, reread when it changes). It listens only on the node's
// deployment bridges (BridgePrefix(ZLAYER_NETWORK_CIDR) followed by anything),
// on their addresses, which are the containers' gateways; --bind-dynamic picks
// up bridges made after it started. Never on 0.0.0.0 or lo: several nodes run
// side by side on one host in the tests (each with its own network range), and
// the host may have a resolver of its own on port 53.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace zlayer::init {

struct DnsmasqCommand {
  std::string program;                           // resolved path, or the bare name when not found
  std::string hosts_dir;                         // DnsHostsDir(config)
  std::string interface_prefix;                  // BridgePrefix(ZLAYER_NETWORK_CIDR): "zl0ac8"
  std::string resolv_file = "/etc/resolv.conf";  // the node's resolvers
  int port = 0;                                  // 0: dnsmasq's default, 53
};

// The command for a node's configuration. kInvalidArgument when network_cidr
// does not parse (LoadNodeConfig has checked it already).
Result<DnsmasqCommand> DnsmasqCommandFor(const NodeConfig& config, std::string program);

// dnsmasq's argv, argv[0] = program (pure):
//   --keep-in-foreground     zlayer-init supervises it; no fork, no daemon
//   --conf-file=/dev/null    nothing from /etc/dnsmasq.conf of a host install
//   --log-facility=-         logs on stderr, relayed as "dnsmasq: ..."
//   --pid-file=              no pid file (zlayer-init writes <run dir>/dnsmasq.pid)
//   --user=root              no privilege drop: it reads the agent's 0644 files
//                            and rebinds on new bridges (a node is root anyway)
//   --no-hosts               not the node's /etc/hosts
//   --hostsdir=DIR           the agent's files, one per deployment
//   --bind-dynamic --interface=PREFIX* --except-interface=lo
//                            only the bridges' addresses, also bridges made later;
//                            lo is added implicitly by --interface, hence excluded
//   --local=/zlayer.internal/  never forward names of the cluster domain
//   --domain-needed          never forward names without a dot
//   --resolv-file=FILE       the node's resolvers for everything else
//   --port=N                 only when port != 0
std::vector<std::string> DnsmasqArgv(const DnsmasqCommand& command);

}  // namespace zlayer::init
