#include "agent/daemon/certificate_catalog.h"

#include <algorithm>
#include <map>

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

std::vector<node::CertificateView> CertificateViews(
    const std::vector<ingress::CertificateEntry>& entries,
    const std::vector<acme::AcmeCertificateStatus>& acme, bool acme_on) {
  std::map<std::string, const acme::AcmeCertificateStatus*> by_host;
  for (const acme::AcmeCertificateStatus& status : acme) by_host[status.host] = &status;
  std::vector<node::CertificateView> views;
  for (const ingress::CertificateEntry& entry : entries) {
    node::CertificateView view;
    view.host = entry.host;
    view.source = ingress::CertificateSourceName(entry.source);
    view.not_after = entry.not_after;
    view.note = entry.note;
    if (acme_on && !entry.host.empty() && entry.source != ingress::CertificateSource::kUser) {
      node::CertificateView::Acme state;
      if (auto it = by_host.find(entry.host); it != by_host.end()) {
        state.in_progress = it->second->in_progress;
        state.refused = it->second->refused;
        state.last_error = it->second->last_error;
        state.next_attempt = it->second->next_attempt;
      }
      view.acme = state;
    }
    views.push_back(std::move(view));
  }
  return views;
}

std::vector<node::CertificateView> IngressCertificates::Certificates() const {
  if (acme_ == nullptr) return CertificateViews(ingress_.Certificates(), {}, false);
  return CertificateViews(ingress_.Certificates(), acme_->Status(), true);
}

}  // namespace zlayer::agent::daemon
