// The boundary to lego (https://go-acme.github.io/lego/, Debian's 4.9), the ACME
// client the agent runs as a child process: the command lines for obtaining and
// renewing one host's certificate, where lego keeps its files, and what its
// output means. Everything here but ReadCertificateInfo is pure.
//
// lego's files under `data_dir` (its --path):
//   accounts/<directory host>/<email>/{account.json,keys/<email>.key}   the ACME account
//   certificates/<host>.crt   the certificate, leaf first, then its issuers (PEM)
//   certificates/<host>.key   its private key (PEM, EC P-256)
//   certificates/<host>.{issuer.crt,json}   lego's own bookkeeping
// The .crt/.key pair is what the ingress serves; user certificates win there.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/process_runner.h"
#include "common/status.h"

namespace zlayer::agent::acme {

struct AcmeSettings {
  // Absolute path of the lego program.
  std::string lego_program = "/usr/bin/lego";
  // The ACME account's contact; setting it accepts the CA's terms of service.
  std::string email;
  // The CA's ACME directory URL (Let's Encrypt production by default).
  std::string directory_url = "https://acme-v02.api.letsencrypt.org/directory";
  // "" or a PEM file of extra CAs to trust the directory with (private or test
  // CAs), in addition to the system's (LEGO_CA_CERTIFICATES).
  std::string ca_bundle;
  // lego's --path: the account and the certificates (see above). Absolute.
  std::string data_dir;
  // Where lego's HTTP-01 challenge server listens ("address:port"); the
  // ingress routes /.well-known/acme-challenge/ of its port-80 listener here.
  std::string challenge_address = "127.0.0.1:8402";
  // A certificate expiring within this is renewed.
  std::chrono::hours renew_before{24 * 30};
  // How often every certificate's expiry is checked again.
  std::chrono::nanoseconds check_interval = std::chrono::hours(24);
  // Back-off after a failed run: first_retry, doubled per failure, at most
  // max_retry (a CA's "retry after" hint wins when it is later).
  std::chrono::nanoseconds first_retry = std::chrono::minutes(1);
  std::chrono::nanoseconds max_retry = std::chrono::hours(24);
  // A lego run still going after this is killed and counts as failed.
  std::chrono::seconds run_timeout{120};
};

enum class LegoAction { kObtain, kRenew };

// lego's argv[1..] for `action` on `host`: global options (server, email,
// --accept-tos, --path, the HTTP-01 standalone server on challenge_address,
// the domain) then `run`, or `renew --days <renew_before in whole days,
// rounded up> --no-random-sleep` (lego itself renews only when the certificate
// expires within that many days; the manager has already decided it does).
// `host` must have passed ValidateHost.
std::vector<std::string> LegoArgs(const AcmeSettings& settings, LegoAction action,
                                  const std::string& host);

// lego's whole environment: a fixed PATH and, with a ca_bundle,
// LEGO_CA_CERTIFICATES plus LEGO_CA_SYSTEM_CERT_POOL=true (trust both).
std::map<std::string, std::string> LegoEnv(const AcmeSettings& settings);

// The request for one run (program, args, env, timeout = run_timeout).
ProcessRequest LegoRequest(const AcmeSettings& settings, LegoAction action,
                           const std::string& host);

// OK for a DNS name HTTP-01 can validate: lowercase letters, digits, '-' and
// '.', labels of 1..63 characters, at most 253 in all. kInvalidArgument
// otherwise; a wildcard ("*.example.com") gets a message saying HTTP-01
// cannot validate wildcard names.
Status ValidateHost(std::string_view host);

// data_dir/certificates/<host>.crt and .key.
std::string CertificatePath(const AcmeSettings& settings, const std::string& host);
std::string KeyPath(const AcmeSettings& settings, const std::string& host);

// lego's directory for the account of settings.email at settings.directory_url:
// data_dir/accounts/<the URL's host[:port], ':' written '_'>/<email>.
std::string AccountDir(const AcmeSettings& settings);

// Whether lego's output says the CA does not know the account it used (RFC
// 8555's accountDoesNotExist: the CA was reset, or the account deactivated).
// The manager then removes AccountDir, so the next run registers a new one.
bool AccountUnknown(std::string_view output);

// One short line (at most kMaxErrorLine bytes) saying why a run failed, taken
// from lego's output: the last line mentioning an error (lego logs the ACME
// problem there), without lego's timestamp; else the last non-empty line;
// else "lego exited with status N".
inline constexpr size_t kMaxErrorLine = 300;
std::string LegoErrorLine(const ProcessResult& result);

// The earliest time the CA asked not to be asked again before, when lego's
// output carries one: "retry after 2026-01-02 03:04:05 UTC" (Let's Encrypt's
// rate-limit problems), "retry after <RFC 3339>", or "Retry-After: <seconds>"
// (relative to `now`). nullopt when there is none.
std::optional<std::chrono::system_clock::time_point> LegoRetryAfter(
    std::string_view output, std::chrono::system_clock::time_point now);

struct CertificateInfo {
  std::chrono::system_clock::time_point not_after;
  std::string serial;  // uppercase hex
};

// The first certificate in the PEM file at `path` (the leaf in lego's bundle).
// Blocking file I/O: call off the loop. kNotFound when the file does not
// exist, kInvalidArgument when it holds no readable certificate.
Result<CertificateInfo> ReadCertificateInfo(const std::string& path);

}  // namespace zlayer::agent::acme
