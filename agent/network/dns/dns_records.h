// The names of a deployment's services and replicas, and the files that carry
// them: dnsmasq's hosts files (one per deployment in its --hostsdir) and each
// container's /etc/resolv.conf. Pure functions over plain values.
//
// Names (kClusterDomain is "zlayer.internal", common/network_names.h):
//   <service>.<deployment>.zlayer.internal          -> the service's stable virtual address
//   <index>.<service>.<deployment>.zlayer.internal  -> replica <index>'s own address
// A container's resolv.conf searches <deployment>.zlayer.internal with ndots:2,
// so `web` and `0.web` resolve inside the deployment; every other name goes to
// the node's DNS server (dnsmasq on the bridge's gateway), which forwards it to
// the node's own resolvers.
#pragma once

#include <string>
#include <vector>

namespace zlayer::agent::network {

struct DnsRecord {
  std::string name;     // fully qualified, without the trailing dot
  std::string address;  // IPv4, dotted quad

  bool operator==(const DnsRecord&) const = default;
  auto operator<=>(const DnsRecord&) const = default;
};

// A service of the deployment and its stable virtual address ("" = none yet).
struct ServiceAddress {
  std::string service;
  std::string address;
};

// A replica and its own address ("" = none: not started, network_mode host or
// none, or its network is not set up yet).
struct ReplicaAddress {
  std::string service;
  int index = 0;
  std::string address;
};

// "<deployment>.zlayer.internal": the search domain of the deployment's containers.
std::string DeploymentDomain(const std::string& deployment);
// "<service>.<deployment>.zlayer.internal".
std::string ServiceDnsName(const std::string& deployment, const std::string& service);
// "<index>.<service>.<deployment>.zlayer.internal".
std::string ReplicaDnsName(const std::string& deployment, const std::string& service, int index);

// Every record of one deployment: one per service with an address, one per
// replica with an address. Entries without an address get no record. Sorted by
// name, then address, so that equal inputs give equal files (HostsDirRecords
// skips rewriting an unchanged file).
std::vector<DnsRecord> DeploymentDnsRecords(const std::string& deployment,
                                            const std::vector<ServiceAddress>& services,
                                            const std::vector<ReplicaAddress>& replicas);

// A hosts file in the format dnsmasq reads from --hostsdir ("ADDRESS NAME", one
// line per record, in the given order). No records: an empty file.
std::string RenderHostsFile(const std::vector<DnsRecord>& records);

// A container's /etc/resolv.conf:
//   nameserver <nameserver>                 (its bridge's gateway, where dnsmasq listens)
//   search <deployment>.zlayer.internal
//   options ndots:2
std::string ContainerResolvConf(const std::string& nameserver, const std::string& deployment);

}  // namespace zlayer::agent::network
