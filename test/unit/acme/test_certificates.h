// Self-signed certificates with a chosen expiry and serial, written as PEM,
// for tests that read certificate files.
#pragma once

#include <chrono>
#include <string>

namespace zlayer::agent::acme::testing {

// Writes a self-signed EC certificate for `host` valid until `not_after`, with
// serial number `serial`, to `path` (PEM). Throws std::runtime_error on failure.
void WriteCertificate(const std::string& path, const std::string& host,
                      std::chrono::system_clock::time_point not_after, long serial);

}  // namespace zlayer::agent::acme::testing
