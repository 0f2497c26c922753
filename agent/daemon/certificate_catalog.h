// The certificates of the node's TLS listeners as ACME and `zlayer certs` see
// them: which hosts are ACME's at all.
#pragma once

#include <string>
#include <vector>

#include "agent/ingress/certificates.h"

namespace zlayer::agent::daemon {

// The hosts ACME should hold certificates for: those the TLS listeners serve
// by name (not the node's default "") whose certificate is not the user's.
// Wildcards are included: the ACME manager refuses them and says why. Sorted,
// without duplicates. Pure.
std::vector<std::string> AcmeHosts(const std::vector<ingress::CertificateEntry>& entries);

}  // namespace zlayer::agent::daemon
