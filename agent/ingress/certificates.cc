#include "agent/ingress/certificates.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "common/durable_file.h"

namespace zlayer::agent::ingress {
namespace {

namespace fs = std::filesystem;
using SystemClock = std::chrono::system_clock;

constexpr auto kSelfSignedLifetime = std::chrono::hours(24 * 90);
constexpr auto kRenewBefore = std::chrono::hours(24 * 30);
constexpr const char* kWildcardPrefix = "_wildcard.";
constexpr const char* kDefaultName = "zlayer-node";

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// The most recent OpenSSL error as text; clears the queue.
std::string OpenSslError() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// "_wildcard.example.com" <-> "*.example.com".
std::string NameFromStem(const std::string& stem) {
  std::string lower = Lower(stem);
  if (StartsWith(lower, kWildcardPrefix)) return "*." + lower.substr(std::strlen(kWildcardPrefix));
  return lower;
}
std::string StemFromName(const std::string& name) {
  if (StartsWith(name, "*.")) return kWildcardPrefix + name.substr(2);
  return name;
}

// Whether a certificate name ("api.example.com", "*.example.com") covers
// `host`: equal, or a wildcard one level above it.
bool Covers(const std::string& name, const std::string& host) {
  if (name == host) return true;
  if (!StartsWith(name, "*.") || StartsWith(host, "*.")) return false;
  const size_t dot = host.find('.');
  return dot != std::string::npos && dot > 0 && host.substr(dot + 1) == name.substr(2);
}

// Host names we generate certificates and file names for.
bool IsPlainHostName(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  const std::string rest = StartsWith(host, "*.") ? host.substr(2) : host;
  if (rest.empty() || rest.front() == '.' || rest.back() == '.') return false;
  return std::all_of(rest.begin(), rest.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '-' || c == '.' || c == '_';
  });
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return ErrnoError("cannot read " + path);
  return text.str();
}

// Writes `content` to `path` unless it already holds exactly that, durably and
// 0600 (it carries a private key).
Status WriteIfChanged(const std::string& path, const std::string& content) {
  auto existing = ReadWholeFile(path);
  if (existing.ok() && *existing == content) return Status::Ok();
  return WriteFileDurably(path, content, 0600);
}

Status MakeDirectory(const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return ErrnoError("mkdir " + dir, error.value());
  return Status::Ok();
}

// A parsed certificate (the leaf first, then its chain) with its key.
struct KeyPair {
  std::vector<X509Ptr> chain;
  PkeyPtr key;
};

int NoPassphrase(char*, int, int, void*) { return 0; }

// Every certificate of `pem`, in order. Empty when there is none.
std::vector<X509Ptr> ParseCertificates(const std::string& pem) {
  std::vector<X509Ptr> chain;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
    chain.emplace_back(cert);
  }
  ERR_clear_error();  // the end of the input reads as an error
  return chain;
}

PkeyPtr ParseKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  return key;
}

SystemClock::time_point NotAfter(const X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return SystemClock::time_point{};
  return SystemClock::from_time_t(::timegm(&tm));
}

std::string FormatTime(SystemClock::time_point time) {
  const std::time_t t = SystemClock::to_time_t(time);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string Asn1Text(const ASN1_STRING* text) {
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, text);
  if (length < 0) return "";
  std::string result(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return result;
}

// The DNS names of the subjectAltName, else the subject's CN; lower case, sorted.
std::vector<std::string> NamesOf(X509* cert) {
  std::set<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type == GEN_DNS) names.insert(Lower(Asn1Text(name->d.dNSName)));
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    X509_NAME* subject = X509_get_subject_name(cert);
    const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index >= 0) {
      names.insert(Lower(Asn1Text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)))));
    }
  }
  // Only names a crt-list line can carry as SNI filters.
  std::vector<std::string> plain;
  for (const std::string& name : names) {
    if (IsPlainHostName(name)) plain.push_back(name);
  }
  return plain;
}

// The leaf, its chain, then the key, as HAProxy loads them.
Result<std::string> PemText(const KeyPair& pair) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  for (const X509Ptr& cert : pair.chain) {
    if (PEM_write_bio_X509(bio.get(), cert.get()) != 1) return InternalError(OpenSslError());
  }
  if (PEM_write_bio_PrivateKey(bio.get(), pair.key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
      1) {
    return InternalError(OpenSslError());
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

// A valid pair found in the user's or ACME's directory.
struct FoundCertificate {
  std::string name;                // from the file name: "api.example.com", "*.example.com"
  std::string stem;                // the file name without .crt/.key
  std::string pem;                 // PemText
  std::vector<std::string> names;  // its own (NamesOf the leaf)
  SystemClock::time_point not_after;
};

// Checks one <stem>.crt + <stem>.key pair; the error message says why it is skipped.
Result<FoundCertificate> LoadPair(const std::string& dir, const std::string& stem,
                                  SystemClock::time_point now) {
  const std::string crt_path = dir + "/" + stem + ".crt";
  const std::string key_path = dir + "/" + stem + ".key";
  auto crt_text = ReadWholeFile(crt_path);
  if (!crt_text.ok()) return InvalidArgumentError(crt_path + ": unreadable");
  auto key_text = ReadWholeFile(key_path);
  if (!key_text.ok()) return InvalidArgumentError(key_path + ": unreadable");
  KeyPair pair;
  pair.chain = ParseCertificates(*crt_text);
  if (pair.chain.empty()) return InvalidArgumentError(crt_path + ": no PEM certificate in it");
  pair.key = ParseKey(*key_text);
  if (pair.key == nullptr) {
    return InvalidArgumentError(key_path + ": no unencrypted PEM private key in it");
  }
  if (X509_check_private_key(pair.chain.front().get(), pair.key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgumentError(key_path + ": the key does not match the certificate " + stem +
                                ".crt");
  }
  FoundCertificate found;
  found.not_after = NotAfter(pair.chain.front().get());
  if (found.not_after <= now) {
    return InvalidArgumentError(crt_path + ": expired on " + FormatTime(found.not_after));
  }
  auto pem = PemText(pair);
  if (!pem.ok()) return InvalidArgumentError(crt_path + ": " + pem.status().message());
  found.name = NameFromStem(stem);
  found.stem = stem;
  found.pem = std::move(*pem);
  found.names = NamesOf(pair.chain.front().get());
  return found;
}

// The valid pairs of `dir`, sorted by stem; the skipped files' sentences are
// added to `skipped`. A missing or empty-named directory has none.
std::vector<FoundCertificate> LoadDirectory(const std::string& dir, SystemClock::time_point now,
                                            std::vector<std::string>& skipped, bool acme = false) {
  std::vector<FoundCertificate> found;
  if (dir.empty()) return found;
  std::map<std::string, std::pair<bool, bool>> stems;  // stem -> (has .crt, has .key)
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string file = entry.path().filename().string();
    const std::string extension = entry.path().extension().string();
    const std::string stem = entry.path().stem().string();
    if (stem.empty() || file.front() == '.') continue;
    // lego keeps each certificate's issuer beside it, as <host>.issuer.crt.
    if (acme && stem.ends_with(".issuer")) continue;
    if (extension == ".crt") stems[stem].first = true;
    if (extension == ".key") stems[stem].second = true;
  }
  if (error && error != std::errc::no_such_file_or_directory) {
    skipped.push_back(dir + ": unreadable (" + error.message() + "): skipped");
  }
  for (const auto& [stem, files] : stems) {
    if (!files.first) {
      skipped.push_back(dir + "/" + stem + ".key: no " + stem + ".crt beside it: skipped");
      continue;
    }
    if (!files.second) {
      skipped.push_back(dir + "/" + stem + ".crt: no " + stem + ".key beside it: skipped");
      continue;
    }
    if (!IsPlainHostName(NameFromStem(stem))) {
      skipped.push_back(dir + "/" + stem +
                        ".crt: not named <domain>.crt or _wildcard.<domain>.crt: skipped");
      continue;
    }
    auto pair = LoadPair(dir, stem, now);
    if (!pair.ok()) {
      skipped.push_back(pair.status().message() + ": skipped");
      continue;
    }
    found.push_back(std::move(*pair));
  }
  return found;
}

// The certificate of `found` that serves `host`: by file name, exact then the
// parent's wildcard, then by the certificates' own names. nullptr: none.
const FoundCertificate* Lookup(const std::vector<FoundCertificate>& found,
                               const std::string& host) {
  for (const FoundCertificate& cert : found) {
    if (cert.name == host) return &cert;
  }
  const size_t dot = host.find('.');
  if (!StartsWith(host, "*.") && dot != std::string::npos && dot > 0) {
    const std::string wildcard = "*." + host.substr(dot + 1);
    for (const FoundCertificate& cert : found) {
      if (cert.name == wildcard) return &cert;
    }
  }
  for (const FoundCertificate& cert : found) {
    for (const std::string& name : cert.names) {
      if (Covers(name, host)) return &cert;
    }
  }
  return nullptr;
}

Status AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) return InternalError("extension " + value + ": " + OpenSslError());
  const int added = X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
  if (added != 1) return InternalError("extension " + value + ": " + OpenSslError());
  return Status::Ok();
}

// A new EC P-256 key and a certificate for `dns_name` signed by itself.
Result<KeyPair> Generate(const std::string& dns_name, SystemClock::time_point now) {
  KeyPair pair;
  pair.key.reset(EVP_EC_gen("P-256"));
  if (pair.key == nullptr) return InternalError("generate a P-256 key: " + OpenSslError());
  X509Ptr cert(X509_new());
  if (cert == nullptr) return InternalError(OpenSslError());
  X509_set_version(cert.get(), 2);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), BN_free);
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return InternalError("serial number: " + OpenSslError());
  }
  const std::time_t start = SystemClock::to_time_t(now - std::chrono::hours(1));
  const std::time_t end = SystemClock::to_time_t(now + kSelfSignedLifetime);
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), start) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), end) == nullptr) {
    return InternalError("validity: " + OpenSslError());
  }
  // A CN is at most 64 characters; the SAN is what clients check.
  const std::string common_name = dns_name.size() <= 64 ? dns_name : "zlayer-self-signed";
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), subject) != 1 ||
      X509_set_pubkey(cert.get(), pair.key.get()) != 1) {
    return InternalError("subject: " + OpenSslError());
  }
  ZLAYER_RETURN_IF_ERROR(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  ZLAYER_RETURN_IF_ERROR(AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature"));
  ZLAYER_RETURN_IF_ERROR(AddExtension(cert.get(), NID_ext_key_usage, "serverAuth"));
  ZLAYER_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_alt_name, "DNS:" + dns_name));
  if (X509_sign(cert.get(), pair.key.get(), EVP_sha256()) == 0) {
    return InternalError("sign: " + OpenSslError());
  }
  pair.chain.push_back(std::move(cert));
  return pair;
}

struct SelfSigned {
  std::string pem;
  SystemClock::time_point not_after;
};

// The kept self-signed certificate for `dns_name` at `path`, or a new one
// written there when it is missing, unreadable, for another name, or within
// kRenewBefore of its expiry.
Result<SelfSigned> KeptOrNewSelfSigned(const std::string& path, const std::string& dns_name,
                                       SystemClock::time_point now) {
  if (auto kept = ReadWholeFile(path); kept.ok()) {
    KeyPair pair{ParseCertificates(*kept), ParseKey(*kept)};
    if (pair.chain.size() == 1 && pair.key != nullptr &&
        X509_check_private_key(pair.chain.front().get(), pair.key.get()) == 1) {
      const auto not_after = NotAfter(pair.chain.front().get());
      const auto names = NamesOf(pair.chain.front().get());
      if (not_after - kRenewBefore > now && names == std::vector<std::string>{dns_name}) {
        return SelfSigned{*kept, not_after};
      }
    }
    ERR_clear_error();
  }
  auto pair = Generate(dns_name, now);
  if (!pair.ok()) return pair.status().Wrap("self-signed certificate for " + dns_name);
  auto pem = PemText(*pair);
  if (!pem.ok()) return pem.status().Wrap("self-signed certificate for " + dns_name);
  ZLAYER_RETURN_IF_ERROR(WriteIfChanged(path, *pem));
  return SelfSigned{std::move(*pem), NotAfter(pair->chain.front().get())};
}

// One PEM of out_dir and the SNI names it serves.
struct OutPem {
  std::string content;
  std::set<std::string> filters;
};

std::string DescribeDirs(const CertificateDirs& dirs) {
  return dirs.acme_dir.empty() ? dirs.user_dir : dirs.user_dir + " or " + dirs.acme_dir;
}

}  // namespace

const char* CertificateSourceName(CertificateSource source) {
  switch (source) {
    case CertificateSource::kUser:
      return "user";
    case CertificateSource::kAcme:
      return "acme";
    case CertificateSource::kSelfSigned:
      return "self-signed";
  }
  return "unknown";
}

Result<CertificateSet> PrepareCertificates(const std::vector<std::string>& tls_hosts,
                                           const CertificateDirs& dirs,
                                           SystemClock::time_point now) {
  ZLAYER_RETURN_IF_ERROR(MakeDirectory(dirs.self_signed_dir));
  ZLAYER_RETURN_IF_ERROR(MakeDirectory(dirs.out_dir));
  CertificateSet set;
  const std::vector<FoundCertificate> user = LoadDirectory(dirs.user_dir, now, set.skipped);
  const std::vector<FoundCertificate> acme =
      LoadDirectory(dirs.acme_dir, now, set.skipped, /*acme=*/true);
  std::sort(set.skipped.begin(), set.skipped.end());

  std::map<std::string, OutPem> out;  // by file name in out_dir
  const auto out_path = [&](const std::string& file) { return dirs.out_dir + "/" + file; };

  auto node_default =
      KeptOrNewSelfSigned(dirs.self_signed_dir + "/_default.pem", kDefaultName, now);
  if (!node_default.ok()) return node_default.status();
  const std::string default_file = "default.pem";
  out[default_file].content = node_default->pem;
  set.entries.push_back({"", CertificateSource::kSelfSigned, out_path(default_file),
                         node_default->not_after,
                         "the node's default, for unknown names: self-signed"});

  std::set<std::string> hosts;
  for (const std::string& host : tls_hosts) {
    if (!host.empty()) hosts.insert(Lower(host));
  }
  std::set<std::string> used_user_stems;
  for (const std::string& host : hosts) {
    const FoundCertificate* found = Lookup(user, host);
    CertificateSource source = CertificateSource::kUser;
    if (found == nullptr) {
      found = Lookup(acme, host);
      source = CertificateSource::kAcme;
    }
    if (found != nullptr) {
      const std::string file =
          std::string(CertificateSourceName(source)) + "_" + found->stem + ".pem";
      OutPem& pem = out[file];
      pem.content = found->pem;
      pem.filters.insert(host);
      pem.filters.insert(found->names.begin(), found->names.end());
      if (source == CertificateSource::kUser) used_user_stems.insert(found->stem);
      std::string note;
      if (found->name != host) note = "served by " + found->stem + ".crt";
      set.entries.push_back({host, source, out_path(file), found->not_after, note});
      continue;
    }
    if (!IsPlainHostName(host)) {
      set.entries.push_back({host, CertificateSource::kSelfSigned, out_path(default_file),
                             node_default->not_after,
                             "not a host name we can make a certificate for: the node's default"});
      continue;
    }
    const std::string stem = StemFromName(host);
    auto generated = KeptOrNewSelfSigned(dirs.self_signed_dir + "/" + stem + ".pem", host, now);
    if (!generated.ok()) return generated.status();
    const std::string file = "self-signed_" + stem + ".pem";
    out[file].content = generated->pem;
    out[file].filters.insert(host);
    set.entries.push_back(
        {host, CertificateSource::kSelfSigned, out_path(file), generated->not_after,
         "no certificate for " + host + " in " + DescribeDirs(dirs) + ": self-signed"});
  }

  std::vector<CertificateEntry> others;
  for (const FoundCertificate& found : user) {
    if (used_user_stems.count(found.stem) != 0) continue;
    const std::string file = "user_" + found.stem + ".pem";
    OutPem& pem = out[file];
    pem.content = found.pem;
    pem.filters.insert(found.names.begin(), found.names.end());
    others.push_back({found.name, CertificateSource::kUser, out_path(file), found.not_after, ""});
  }
  std::sort(others.begin(), others.end(),
            [](const CertificateEntry& a, const CertificateEntry& b) { return a.host < b.host; });
  set.entries.insert(set.entries.end(), others.begin(), others.end());

  for (const auto& [file, pem] : out) {
    ZLAYER_RETURN_IF_ERROR(WriteIfChanged(out_path(file), pem.content));
  }
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dirs.out_dir, error)) {
    const std::string file = entry.path().filename().string();
    if (entry.path().extension() == ".pem" && out.count(file) == 0) {
      fs::remove(entry.path(), error);
    }
  }

  set.crt_list = out_path(default_file) + "\n";
  for (const auto& [file, pem] : out) {
    if (file == default_file) continue;
    set.crt_list += out_path(file);
    for (const std::string& filter : pem.filters) set.crt_list += " " + filter;
    set.crt_list += "\n";
  }
  return set;
}

std::string CertificateDirsSignature(const CertificateDirs& dirs) {
  std::string signature;
  for (const std::string& dir : {dirs.user_dir, dirs.acme_dir}) {
    signature += dir + ":";
    std::error_code error;
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir, error)) {
      const std::string extension = entry.path().extension().string();
      if (extension == ".crt" || extension == ".key") {
        files.push_back(entry.path().filename().string());
      }
    }
    if (error) {
      signature += " absent\n";
      continue;
    }
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) {
      struct stat info {};
      signature += " " + file;
      if (::stat((dir + "/" + file).c_str(), &info) != 0) {
        signature += "=gone";
        continue;
      }
      signature += "=" + std::to_string(info.st_size) + "," + std::to_string(info.st_mtim.tv_sec) +
                   "." + std::to_string(info.st_mtim.tv_nsec) + "," + std::to_string(info.st_ino);
    }
    signature += "\n";
  }
  return signature;
}

}  // namespace zlayer::agent::ingress
