#include "agent/daemon/certificate_catalog.h"

#include <algorithm>

namespace zlayer::agent::daemon {

std::vector<std::string> AcmeHosts(const std::vector<ingress::CertificateEntry>& entries) {
  std::vector<std::string> hosts;
  for (const ingress::CertificateEntry& entry : entries) {
    if (entry.host.empty() || entry.source == ingress::CertificateSource::kUser) continue;
    hosts.push_back(entry.host);
  }
  std::sort(hosts.begin(), hosts.end());
  hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
  return hosts;
}

}  // namespace zlayer::agent::daemon
