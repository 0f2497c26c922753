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

TEST_CASE("zlayer certs shows ACME's state for ACME's hosts only, and none with ACME off") {
  const std::vector<CertificateEntry> entries = {
      Entry("", CertificateSource::kSelfSigned), Entry("shop.test", CertificateSource::kSelfSigned),
      Entry("api.test", CertificateSource::kUser),
      Entry("*.wild.test", CertificateSource::kSelfSigned)};
  acme::AcmeCertificateStatus shop;
  shop.host = "shop.test";
  shop.last_error = "connection refused";
  acme::AcmeCertificateStatus wild;
  wild.host = "*.wild.test";
  wild.refused = true;
  wild.last_error = "HTTP-01 cannot validate wildcard names";
  const auto views = CertificateViews(entries, {shop, wild}, /*acme_on=*/true);
  REQUIRE(views.size() == 4);
  CHECK_FALSE(views[0].acme.has_value());  // the node's default
  REQUIRE(views[1].acme.has_value());
  CHECK(views[1].source == "self-signed");
  CHECK(views[1].acme->last_error == "connection refused");
  CHECK_FALSE(views[2].acme.has_value());  // the user's
  CHECK(views[2].source == "user");
  REQUIRE(views[3].acme.has_value());
  CHECK(views[3].acme->refused);

  for (const auto& view : CertificateViews(entries, {shop, wild}, /*acme_on=*/false)) {
    CHECK_FALSE(view.acme.has_value());
  }
}

}  // namespace
}  // namespace zlayer::agent::daemon
