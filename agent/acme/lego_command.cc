#include "agent/acme/lego_command.h"

#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <memory>

#include "common/rfc3339.h"

namespace zlayer::agent::acme {

namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

// lego logs through Go's log package: "2026/12/07 21:30:00 message".
std::string_view StripLogTimestamp(std::string_view line) {
  constexpr size_t kStamp = sizeof("2006/01/02 15:04:05 ") - 1;
  if (line.size() >= kStamp && line[4] == '/' && line[7] == '/' && line[13] == ':' &&
      line[16] == ':' && line[19] == ' ') {
    line.remove_prefix(kStamp);
  }
  return line;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    std::string_view trimmed = Trim(StripLogTimestamp(Trim(line)));
    if (!trimmed.empty()) lines.push_back(trimmed);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::string Shorten(std::string_view line) {
  if (line.size() <= kMaxErrorLine) return std::string(line);
  return std::string(line.substr(0, kMaxErrorLine - 3)) + "...";
}

// "2026-01-02 03:04:05" (UTC) at the start of `text`.
std::optional<std::chrono::system_clock::time_point> ParseDateTime(std::string_view text) {
  std::tm tm{};
  if (text.size() < 19) return std::nullopt;
  std::string copy(text.substr(0, 19));
  const char* end = strptime(copy.c_str(), "%Y-%m-%d %H:%M:%S", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  time_t seconds = timegm(&tm);
  if (seconds == static_cast<time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(seconds);
}

}  // namespace

std::vector<std::string> LegoArgs(const AcmeSettings& settings, LegoAction action,
                                  const std::string& host) {
  // "--opt=value" so that no value can be taken for an option.
  std::vector<std::string> args = {
      "--server=" + settings.directory_url,
      "--email=" + settings.email,
      "--accept-tos",
      "--path=" + settings.data_dir,
      "--http",
      "--http.port=" + settings.challenge_address,
      "--domains=" + host,
      "--user-agent=zlayer-agent",
  };
  if (action == LegoAction::kObtain) {
    args.push_back("run");
  } else {
    auto days = (settings.renew_before.count() + 23) / 24;
    args.push_back("renew");
    args.push_back(fmt::format("--days={}", days));
    // lego otherwise sleeps up to 8 minutes first when not on a terminal; the
    // manager already runs one renewal at a time.
    args.push_back("--no-random-sleep");
  }
  return args;
}

std::string AccountDir(const AcmeSettings& settings) {
  std::string_view rest = settings.directory_url;
  if (size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    rest.remove_prefix(scheme + 3);
  }
  std::string server(rest.substr(0, rest.find('/')));
  std::replace(server.begin(), server.end(), ':', '_');
  return settings.data_dir + "/accounts/" + server + "/" + settings.email;
}

bool AccountUnknown(std::string_view output) {
  return output.find("accountDoesNotExist") != std::string_view::npos;
}

std::map<std::string, std::string> LegoEnv(const AcmeSettings& settings) {
  std::map<std::string, std::string> env = {
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}};
  if (!settings.ca_bundle.empty()) {
    env["LEGO_CA_CERTIFICATES"] = settings.ca_bundle;
    env["LEGO_CA_SYSTEM_CERT_POOL"] = "true";
  }
  return env;
}

ProcessRequest LegoRequest(const AcmeSettings& settings, LegoAction action,
                           const std::string& host) {
  ProcessRequest request;
  request.program = settings.lego_program;
  request.args = LegoArgs(settings, action, host);
  request.env = LegoEnv(settings);
  request.timeout = settings.run_timeout;
  request.max_output = 256 * 1024;
  return request;
}

Status ValidateHost(std::string_view host) {
  if (host.starts_with("*.")) {
    return InvalidArgumentError(fmt::format(
        "{}: HTTP-01 cannot validate wildcard names; the self-signed certificate stays", host));
  }
  if (host.empty() || host.size() > 253) {
    return InvalidArgumentError(fmt::format("'{}': not a DNS name of 1 to 253 characters", host));
  }
  size_t label = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      if (label == 0 || label > 63) {
        return InvalidArgumentError(fmt::format("'{}': empty or too long label", host));
      }
      if (host[i - 1] == '-' || host[i - label] == '-') {
        return InvalidArgumentError(fmt::format("'{}': a label starts or ends with '-'", host));
      }
      label = 0;
      continue;
    }
    char c = host[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return InvalidArgumentError(
          fmt::format("'{}': only lowercase letters, digits, '-' and '.' are allowed", host));
    }
    ++label;
  }
  return Status::Ok();
}

std::string CertificatePath(const AcmeSettings& settings, const std::string& host) {
  return settings.data_dir + "/certificates/" + host + ".crt";
}

std::string KeyPath(const AcmeSettings& settings, const std::string& host) {
  return settings.data_dir + "/certificates/" + host + ".key";
}

std::string LegoErrorLine(const ProcessResult& result) {
  // lego logs to stderr; look there first, then stdout.
  for (const std::string* stream : {&result.stderr_data, &result.stdout_data}) {
    std::vector<std::string_view> lines = Lines(*stream);
    for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
      std::string lower = Lower(*it);
      if (lower.find("error") != std::string::npos ||
          lower.find("could not") != std::string::npos) {
        return Shorten(*it);
      }
    }
    if (!lines.empty()) return Shorten(lines.back());
  }
  if (result.term_signal != 0) return fmt::format("lego killed by signal {}", result.term_signal);
  return fmt::format("lego exited with status {}", result.exit_code);
}

std::optional<std::chrono::system_clock::time_point> LegoRetryAfter(
    std::string_view output, std::chrono::system_clock::time_point now) {
  std::string lower = Lower(output);
  std::optional<std::chrono::system_clock::time_point> latest;
  auto consider = [&](std::chrono::system_clock::time_point at) {
    if (!latest || at > *latest) latest = at;
  };
  for (size_t at = lower.find("retry after "); at != std::string::npos;
       at = lower.find("retry after ", at + 1)) {
    std::string_view rest = std::string_view(output).substr(at + sizeof("retry after ") - 1);
    if (auto when = ParseDateTime(rest)) {
      consider(*when);
      continue;
    }
    std::string_view token = rest.substr(0, rest.find_first_of(" \t\n,;:\"", 20));
    while (!token.empty() && (token.back() == '.' || token.back() == ')')) token.remove_suffix(1);
    auto parsed = ParseRfc3339(token);
    if (parsed.ok()) consider(*parsed);
  }
  for (size_t at = lower.find("retry-after:"); at != std::string::npos;
       at = lower.find("retry-after:", at + 1)) {
    std::string_view rest = Trim(std::string_view(output).substr(at + sizeof("retry-after:") - 1));
    long long seconds = 0;
    auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), seconds);
    if (error == std::errc() && end != rest.data() && seconds >= 0) {
      consider(now + std::chrono::seconds(seconds));
    }
  }
  return latest;
}

Result<CertificateInfo> ReadCertificateInfo(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "re"), &std::fclose);
  if (!file) return ErrnoError(path);
  std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(file.get(), nullptr, nullptr, nullptr),
                                              &X509_free);
  if (!cert) return InvalidArgumentError(path + ": no PEM certificate");
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) {
    return InvalidArgumentError(path + ": unreadable notAfter");
  }
  CertificateInfo info;
  info.not_after = std::chrono::system_clock::from_time_t(timegm(&tm));
  std::unique_ptr<BIGNUM, void (*)(BIGNUM*)> serial(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr), &BN_free);
  if (!serial) return InvalidArgumentError(path + ": unreadable serial number");
  std::unique_ptr<char, void (*)(char*)> hex(BN_bn2hex(serial.get()),
                                             [](char* p) { OPENSSL_free(p); });
  if (!hex) return InvalidArgumentError(path + ": unreadable serial number");
  info.serial = hex.get();
  return info;
}

}  // namespace zlayer::agent::acme
