#include "agent/daemon/certificate_catalog.h"

#include <catch2/catch.hpp>

namespace zlayer::agent::daemon {
namespace {

using ingress::CertificateEntry;
using ingress::CertificateSource;

CertificateEntry Entry(std::string host, CertificateSource source) {
  CertificateEntry entry;
  entry.host = std::move(host);
  entry.source = source;
  return entry;
}

TEST_CASE("ACME holds the named hosts the user has no certificate for, wildcards included") {
  const std::vector<CertificateEntry> entries = {
      Entry("", CertificateSource::kSelfSigned),  // the node's default
      Entry("shop.test", CertificateSource::kSelfSigned),
      Entry("blog.test", CertificateSource::kAcme),
      Entry("api.test", CertificateSource::kUser),
      Entry("*.wild.test", CertificateSource::kSelfSigned),
      Entry("shop.test", CertificateSource::kSelfSigned)};
  CHECK(AcmeHosts(entries) == std::vector<std::string>{"*.wild.test", "blog.test", "shop.test"});
}

}  // namespace
}  // namespace zlayer::agent::daemon
