#include "agent/acme/lego_command.h"

#include <catch2/catch.hpp>

#include "common/rfc3339.h"
#include "test/support/temp_dir.h"
#include "test/unit/acme/test_certificates.h"

using namespace std::chrono_literals;
using namespace zlayer;
using namespace zlayer::agent::acme;

namespace {

AcmeSettings Settings() {
  AcmeSettings settings;
  settings.lego_program = "/usr/bin/lego";
  settings.email = "ops@example.com";
  settings.directory_url = "https://ca.test/dir";
  settings.data_dir = "/var/lib/zlayer/acme";
  settings.challenge_address = "127.0.0.1:8402";
  return settings;
}

std::chrono::system_clock::time_point At(const char* rfc3339) {
  return ParseRfc3339(rfc3339).value();
}

}  // namespace

TEST_CASE("Obtaining runs lego's `run` with the account, the data dir and the HTTP-01 server") {
  CHECK(LegoArgs(Settings(), LegoAction::kObtain, "www.example.com") ==
        std::vector<std::string>{"--server=https://ca.test/dir", "--email=ops@example.com",
                                 "--accept-tos", "--path=/var/lib/zlayer/acme", "--http",
                                 "--http.port=127.0.0.1:8402", "--domains=www.example.com",
                                 "--user-agent=zlayer-agent", "run"});
}

TEST_CASE("Renewing runs `renew` with the window in whole days, rounded up, and no random sleep") {
  AcmeSettings settings = Settings();
  settings.renew_before = std::chrono::hours(24 * 30 + 1);
  std::vector<std::string> args = LegoArgs(settings, LegoAction::kRenew, "www.example.com");
  REQUIRE(args.size() == 11);
  CHECK(args[6] == "--domains=www.example.com");
  CHECK(std::vector<std::string>(args.end() - 3, args.end()) ==
        std::vector<std::string>{"renew", "--days=31", "--no-random-sleep"});
}

TEST_CASE("lego's environment has a PATH, and trusts the CA bundle besides the system's") {
  AcmeSettings settings = Settings();
  CHECK(LegoEnv(settings) ==
        std::map<std::string, std::string>{
            {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}});
  settings.ca_bundle = "/etc/zlayer/ca.pem";
  auto env = LegoEnv(settings);
  CHECK(env.at("LEGO_CA_CERTIFICATES") == "/etc/zlayer/ca.pem");
  CHECK(env.at("LEGO_CA_SYSTEM_CERT_POOL") == "true");
}

TEST_CASE("A lego request carries the program and the run timeout") {
  AcmeSettings settings = Settings();
  settings.run_timeout = 90s;
  ProcessRequest request = LegoRequest(settings, LegoAction::kObtain, "a.example.com");
  CHECK(request.program == "/usr/bin/lego");
  CHECK(request.timeout == 90s);
  CHECK(request.args.back() == "run");
}

TEST_CASE("Only plain DNS names are accepted; a wildcard is refused because of HTTP-01") {
  CHECK(ValidateHost("example.com").ok());
  CHECK(ValidateHost("a-b.c1.example.com").ok());
  CHECK(ValidateHost("localhost").ok());
  Status wildcard = ValidateHost("*.example.com");
  CHECK(wildcard.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(wildcard.message(), Catch::Contains("HTTP-01 cannot validate wildcard"));
  for (const char* bad : {"", "Example.com", "-a.example.com", "a-.example.com", "a..b",
                          "a.example.com.", "a b.com", "--server=x", "a_b.com"}) {
    INFO(bad);
    CHECK(ValidateHost(bad).code() == StatusCode::kInvalidArgument);
  }
  CHECK_FALSE(ValidateHost(std::string(64, 'a') + ".com").ok());
  CHECK(ValidateHost(std::string(63, 'a') + ".com").ok());
}

TEST_CASE("Certificates live in data_dir/certificates as <host>.crt and <host>.key") {
  CHECK(CertificatePath(Settings(), "a.example.com") ==
        "/var/lib/zlayer/acme/certificates/a.example.com.crt");
  CHECK(KeyPath(Settings(), "a.example.com") ==
        "/var/lib/zlayer/acme/certificates/a.example.com.key");
}

TEST_CASE("The account lives under the directory's host, ':' written '_', then the email") {
  AcmeSettings settings = Settings();
  CHECK(AccountDir(settings) == "/var/lib/zlayer/acme/accounts/ca.test/ops@example.com");
  settings.directory_url = "https://127.0.0.1:14000/dir";
  CHECK(AccountDir(settings) == "/var/lib/zlayer/acme/accounts/127.0.0.1_14000/ops@example.com");
}

TEST_CASE("An account the CA does not know is recognised in lego's output") {
  CHECK(AccountUnknown(
      "2026/12/08 01:02:03 Could not obtain certificates:\n acme: error: 400 :: POST :: "
      "https://127.0.0.1:14000/order-plz :: urn:ietf:params:acme:error:accountDoesNotExist :: "
      "unable to find existing account for only-return-existing request"));
  CHECK_FALSE(AccountUnknown("acme: error: 429 :: urn:ietf:params:acme:error:rateLimited"));
}

TEST_CASE("The error line is lego's last error, without its timestamp") {
  ProcessResult result;
  result.exit_code = 1;
  result.stderr_data =
      "2026/12/07 21:32:32 No key found for account a@x.test. Generating a P256 key.\n"
      "2026/12/07 21:32:32 Saved key to /tmp/legotry/accounts/a@x.test.key\n"
      "2026/12/07 21:32:32 Could not create client: get directory at "
      "'https://127.0.0.1:18599/dir': connect: connection refused\n";
  CHECK(LegoErrorLine(result) ==
        "Could not create client: get directory at 'https://127.0.0.1:18599/dir': connect: "
        "connection refused");
}

TEST_CASE("The error line is short even when lego's is long, and says the status without output") {
  ProcessResult result;
  result.exit_code = 1;
  result.stderr_data = "error: " + std::string(5000, 'x');
  CHECK(LegoErrorLine(result).size() == kMaxErrorLine);
  result.stderr_data = "";
  CHECK(LegoErrorLine(result) == "lego exited with status 1");
  result.stderr_data = "\n  \nsomething odd\n";
  CHECK(LegoErrorLine(result) == "something odd");
}

TEST_CASE("A CA's retry-after time is found in lego's output, in each form it takes") {
  auto now = At("2026-01-01T00:00:00Z");
  CHECK(LegoRetryAfter("acme: error: 429 :: urn:ietf:params:acme:error:rateLimited :: too many "
                       "certificates (5) already issued for this exact set of identifiers in the "
                       "last 168h0m0s, retry after 2026-01-03 04:05:06 UTC: see https://x",
                       now) == At("2026-01-03T04:05:06Z"));
  CHECK(LegoRetryAfter("rateLimited: Retry after 2026-02-01T00:00:00Z.", now) ==
        At("2026-02-01T00:00:00Z"));
  CHECK(LegoRetryAfter("HTTP 429\nRetry-After: 3600\n", now) == now + 1h);
  CHECK(LegoRetryAfter("connection refused", now) == std::nullopt);
  CHECK(LegoRetryAfter("retry after a while", now) == std::nullopt);
}

TEST_CASE("A certificate file's expiry and serial are read; a missing file is kNotFound") {
  zlayer::testing::TempDir dir;
  auto not_after = At("2027-03-04T05:06:07Z");
  zlayer::agent::acme::testing::WriteCertificate(dir / "a.crt", "a.example.com", not_after, 0x1234);
  auto info = ReadCertificateInfo(dir / "a.crt");
  REQUIRE(info.ok());
  CHECK(info->not_after == not_after);
  CHECK(info->serial == "1234");
  CHECK(ReadCertificateInfo(dir / "missing.crt").status().code() == StatusCode::kNotFound);
  std::FILE* junk = std::fopen((dir / "junk.crt").c_str(), "w");
  std::fputs("not a certificate\n", junk);
  std::fclose(junk);
  CHECK(ReadCertificateInfo(dir / "junk.crt").status().code() == StatusCode::kInvalidArgument);
}
