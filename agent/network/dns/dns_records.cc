#include "agent/network/dns/dns_records.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/network_names.h"

namespace zlayer::agent::network {

std::string DeploymentDomain(const std::string& deployment) {
  return fmt::format("{}.{}", deployment, kClusterDomain);
}

std::string ServiceDnsName(const std::string& deployment, const std::string& service) {
  return fmt::format("{}.{}", service, DeploymentDomain(deployment));
}

std::string ReplicaDnsName(const std::string& deployment, const std::string& service, int index) {
  return fmt::format("{}.{}", index, ServiceDnsName(deployment, service));
}

std::vector<DnsRecord> DeploymentDnsRecords(const std::string& deployment,
                                            const std::vector<ServiceAddress>& services,
                                            const std::vector<ReplicaAddress>& replicas) {
  std::vector<DnsRecord> records;
  for (const ServiceAddress& s : services) {
    if (!s.address.empty()) records.push_back({ServiceDnsName(deployment, s.service), s.address});
  }
  for (const ReplicaAddress& r : replicas) {
    if (!r.address.empty()) {
      records.push_back({ReplicaDnsName(deployment, r.service, r.index), r.address});
    }
  }
  std::sort(records.begin(), records.end());
  records.erase(std::unique(records.begin(), records.end()), records.end());
  return records;
}

std::string RenderHostsFile(const std::vector<DnsRecord>& records) {
  std::string text;
  for (const DnsRecord& r : records) text += fmt::format("{} {}\n", r.address, r.name);
  return text;
}

std::string ContainerResolvConf(const std::string& nameserver, const std::string& deployment) {
  return fmt::format("nameserver {}\nsearch {}\noptions ndots:2\n", nameserver,
                     DeploymentDomain(deployment));
}

}  // namespace zlayer::agent::network
