// The node's service addresses and isolation between deployments as one
// nftables ruleset (issue 12), the way kube-proxy's nftables mode does it:
// a verdict map from (service address, protocol, port) to a chain per service
// port that DNATs to a random ready replica. Pure: the model in, the nft script
// out; applying it is RuleApplier's job (rule_applier.h).
//
// The table (family ip) holds, in this order of packet processing:
//   nat prerouting (priority dstnat) and nat output (priority -100):
//       address . protocol . port of a service port with ready backends ->
//       DNAT to backend . target_port, chosen by `numgen random`.
//   filter forward and filter output (priority filter):
//       traffic still addressed to a service address was not DNAT'd (no ready
//       backend, or a port the service does not have): refused at once (a TCP
//       reset, ICMP port unreachable otherwise) instead of left to time out.
//   filter forward:
//       from one deployment's subnet to another's: dropped. Checked after DNAT,
//       so another deployment's service address is unreachable too. Within a
//       subnet everything passes (this table adds no accept; Docker's FORWARD
//       drop is answered by the CNI firewall plugin).
//   nat postrouting (priority srcnat):
//       DNAT'd traffic from a subnet to the same subnet is masqueraded, so that
//       a replica reaching its own service (hairpin), or a sibling on its
//       bridge, gets the replies through the node, where they are un-DNAT'd.
//       Outbound NAT is the CNI bridge plugin's ipMasq, not ours.
//
//   nat prerouting and nat output, after the service addresses:
//       udp to a public udp port on the node (public_address, or any local
//       address but loopback and the bridges' gateways) with ready backends
//       -> DNAT to backend . target_port, chosen by `numgen random`.
//   filter input:
//       udp to a public udp port without ready backends: ICMP port unreachable
//       (whatever else on the node may listen there).
//   filter forward, before the isolation between deployments:
//       DNAT'd to a public udp port's backend (the original destination was a
//       public port, not a service address): accepted, so replicas of every
//       deployment, like any other client, reach the public endpoints.
//   Hairpin (a replica reaching its own deployment's public port) is the
//   masquerade above.
//   Datagrams from other hosts are forwarded to the replica: where iptables'
//   FORWARD policy is DROP (a host with dockerd), the CNI firewall plugin
//   accepts only replies towards a replica, so the node must also accept
//   DNAT'd traffic there (`iptables -I FORWARD -m conntrack --ctstate DNAT
//   -j ACCEPT`; this table keeps isolating deployments, its drop is final).
//   Without public_address, loopback addresses are not translated (a DNAT'd
//   packet from 127.0.0.1 is a martian on the bridge). A loopback
//   public_address (tests run nodes side by side on 127.0.0.x) works only
//   where the caller sets net.ipv4.conf.all.route_localnet=1: the datagrams
//   are then masqueraded in nat postrouting, and, as kube-proxy does, filter
//   input drops what arrives for 127.0.0.0/8 on another interface than lo
//   unless it is a reply.
//
// The service addresses are assigned to no interface: the node must route them
// somewhere (its default route does), else a connection to one fails with
// "network unreachable" at the route lookup, before any of these hooks.
//
// Changing readiness is a new script applied as one transaction: the table is
// replaced whole. Conntrack keeps the translation of established connections,
// so a replica dropped from the backends gets no new connections but finishes
// its current ones.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace zlayer::agent::network::services {

enum class Protocol { kTcp, kUdp };

// "tcp" / "udp", as nft spells them.
const char* ProtocolName(Protocol protocol);

struct ServicePort {
  Protocol protocol = Protocol::kTcp;
  uint16_t port = 0;         // on the service address, 1..65535
  uint16_t target_port = 0;  // on each backend, 1..65535
};

struct ServiceRoute {
  std::string deployment;  // [a-z0-9][a-z0-9-]{0,62}, like the spec's names
  std::string service;     // same rule
  std::string address;     // the virtual address, "10.201.0.1"
  std::vector<ServicePort> ports;
  // Addresses of the service's *ready* replicas; empty: every port refuses.
  std::vector<std::string> backends;
};

// A public udp endpoint (issue 13: `expose: public`, protocol udp; HAProxy
// has no UDP): datagrams to the node's `port` go to a ready replica's
// target_port. The ingress maps its UdpForward onto this.
struct PublicUdpPort {
  uint16_t port = 0;         // on the node, 1..65535; one deployment's per node
  uint16_t target_port = 0;  // on each backend, 1..65535
  std::string deployment;    // names like ServiceRoute's
  std::string service;
  // Addresses of the service's *ready* replicas; empty: the port refuses.
  std::vector<std::string> backends;
};

struct NetworkRules {
  // Deployment -> its subnet ("10.200.3.0/24"): isolation and hairpin NAT.
  std::map<std::string, std::string> subnets;
  std::vector<ServiceRoute> services;
  std::vector<PublicUdpPort> public_udp;
  // The node address the public udp ports answer on (ZLAYER_INGRESS_ADDRESS,
  // an IPv4 address); "" = every local address (`fib daddr type local`)
  // except loopback ones and those in a deployment subnet (the bridges'
  // gateways, where the node's DNS listens on port 53).
  std::string public_address;
};

// The script that replaces table `table` (family ip) with `rules` in one
// `nft -f` transaction (creating the table first, so it works whether or not
// the table exists). Deterministic: the same rules in any order give the same
// text (services, ports and backends are sorted; duplicate backends are
// merged), so a caller can skip applying an unchanged script.
//
// Errors (kInvalidArgument, naming the entry): a table name that is not
// [A-Za-z0-9_]+, a deployment or service name outside the rule above, an
// address or backend that is not an IPv4 address, a subnet that is not a CIDR,
// a port of 0, the same protocol and port twice in one service, the same
// service address for two services, the same public udp port twice (naming
// both deployments) and a public_address that is not an IPv4 address.
Result<std::string> RenderRuleset(const std::string& table, const NetworkRules& rules);

// The script that deletes table `table` (family ip) and everything in it;
// succeeds whether or not the table exists.
std::string RenderDeleteTable(const std::string& table);

}  // namespace zlayer::agent::network::services
