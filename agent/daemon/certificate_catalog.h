// The certificates of the node's TLS listeners as ACME and `zlayer certs` see
// them: which hosts are ACME's at all, and the node layer's CertificateCatalog
// over the ingress controller joined with the ACME manager's state per host.
#pragma once

#include <string>
#include <vector>

#include "agent/acme/acme_manager.h"
#include "agent/daemon/ingress_controller.h"
#include "agent/ingress/certificates.h"
#include "agent/node/node.h"

namespace zlayer::agent::daemon {

// The hosts ACME should hold certificates for: those the TLS listeners serve
// by name (not the node's default "") whose certificate is not the user's.
// Wildcards are included: the ACME manager refuses them and says why. Sorted,
// without duplicates. Pure.
std::vector<std::string> AcmeHosts(const std::vector<ingress::CertificateEntry>& entries);

// One view per entry; `acme` set for the hosts AcmeHosts names when ACME is
// on, with the manager's status for the host (empty before its first look). Pure.
std::vector<node::CertificateView> CertificateViews(
    const std::vector<ingress::CertificateEntry>& entries,
    const std::vector<acme::AcmeCertificateStatus>& acme, bool acme_on);

class IngressCertificates : public node::CertificateCatalog {
 public:
  // `acme` is null when ACME is off. Both must outlive this. On the loop.
  IngressCertificates(const IngressController& ingress, const acme::AcmeManager* acme)
      : ingress_(ingress), acme_(acme) {}
  std::vector<node::CertificateView> Certificates() const override;

 private:
  const IngressController& ingress_;
  const acme::AcmeManager* acme_;
};

}  // namespace zlayer::agent::daemon
