// The certificates of the node's TLS listeners (issue 13): which PEM serves
// which SNI name, gathered from the user's certificates directory, the ACME
// directory (issue 14) and certificates the node generates itself, written as
// the combined cert+key PEM files HAProxy loads plus the crt-list that maps SNI
// names onto them.
//
// Lookup for one host (lower case; "*.example.com" for a wildcard route):
//   1. the user's certificates (UserCertsDir): "<host>.crt" + "<host>.key";
//      else "_wildcard.<parent>.crt" + ".key" (a "*.<parent>" certificate,
//      which covers one level: a.example.com, not a.b.example.com nor
//      example.com; "*.example.com" itself is looked up as
//      _wildcard.example.com); else any other valid user pair whose own names
//      (subjectAltName DNS entries, else the subject CN) cover the host;
//   2. the same in the ACME directory;
//   3. else a self-signed certificate the node generates once and keeps in
//      self_signed_dir (EC P-256, SAN = the host, 90 days; a new one when the
//      kept one is within 30 days of its expiry, unreadable or not for the
//      host). TLS always completes; the entry's note says the host lacks a
//      real certificate.
// A user or ACME pair is valid when both files parse as PEM (the .crt may
// carry the chain after the leaf), the key matches the leaf and the leaf has
// not expired, and its file name is a host name (letters, digits, '-', '.',
// '_'; upper case is read as lower case). An invalid one is skipped with a note naming the file and
// why; it is never fatal.
//
// Thread safety: free functions on plain values. PrepareCertificates blocks on
// the filesystem and on key generation: call it on a pool, never on the
// agent's loop. Calls for the same directories must not overlap.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace zlayer::agent::ingress {

enum class CertificateSource { kUser, kAcme, kSelfSigned };

// "user", "acme", "self-signed".
const char* CertificateSourceName(CertificateSource source);

struct CertificateEntry {
  // The SNI name served: "api.example.com", "*.example.com", or "" for the
  // node's default (unknown SNI, no SNI, and routes without a host).
  std::string host;
  CertificateSource source = CertificateSource::kSelfSigned;
  std::string pem_path;  // in CertificateDirs::out_dir: the leaf, its chain, then the key
  std::chrono::system_clock::time_point not_after;
  // Why this source, for the log; "" for a user or ACME certificate found by
  // its host name. "no certificate for api.example.com in /data/certs: self-signed".
  std::string note;
  bool operator==(const CertificateEntry&) const = default;
};

struct CertificateSet {
  // The node's default first (host "", CN "zlayer-node"), then one per host of
  // tls_hosts (sorted, without duplicates and without ""), then the user pairs
  // that serve no host of tls_hosts (host = the name from the file name:
  // "shop.example.com", "*.example.com"), sorted by host.
  std::vector<CertificateEntry> entries;
  // The content of IngressPaths::crt_list (the caller writes it): one line per
  // distinct PEM, "<pem_path>[ <sni filter>...]". The first line is the node's
  // default without filters (HAProxy's certificate for an unknown or absent
  // SNI); each other line's filters are the hosts it serves plus the PEM's own
  // names, sorted. Ends with a newline. Deterministic for equal inputs and files.
  std::string crt_list;
  // Every user or ACME file skipped, one sentence each, sorted:
  // "/data/certs/shop.example.com.key: the key does not match the certificate: skipped".
  std::vector<std::string> skipped;
  bool operator==(const CertificateSet&) const = default;
};

struct CertificateDirs {
  // UserCertsDir: "<domain>.crt" + "<domain>.key", and
  // "_wildcard.<domain>.crt" + ".key" for "*.<domain>". May not exist.
  std::string user_dir;
  // Certificates obtained by ACME (issue 14: lego's certificates directory),
  // same naming; lego's "<host>.issuer.crt" files are ignored. May be "" or
  // not exist.
  std::string acme_dir;
  // <data_dir>/ingress/self-signed: the generated ones ("<host>.pem",
  // "_wildcard.<domain>.pem", "_default.pem" for the node's default, each the
  // certificate then its key, mode 0600), kept across restarts. Created when missing.
  std::string self_signed_dir;
  // IngressPaths::certs_dir: the combined PEMs HAProxy loads. Created when
  // missing; *.pem files in it that the set no longer uses are removed.
  std::string out_dir;
};

// Builds the set for `tls_hosts` (the https routes' hosts; "" stands for routes
// without a host, served by the node's default) as described above, at wall
// time `now` (expiry checks, generation). Writes each PEM of out_dir only when
// its content changed, atomically (temporary file, fsync, rename; mode 0600).
// Errors: only the node's own files (self_signed_dir or out_dir not writable,
// key generation failing) are an error, naming the path; a bad user or ACME
// file is a `skipped` note.
Result<CertificateSet> PrepareCertificates(const std::vector<std::string>& tls_hosts,
                                           const CertificateDirs& dirs,
                                           std::chrono::system_clock::time_point now);

// Cheap (stat only, no reads): a string that changes when any *.crt or *.key
// file in user_dir or acme_dir is added, removed or replaced (name, size,
// mtime with nanoseconds, inode), and stays the same otherwise. A missing
// directory has a signature of its own. The controller polls it every couple
// of seconds and calls PrepareCertificates when it changes.
std::string CertificateDirsSignature(const CertificateDirs& dirs);

}  // namespace zlayer::agent::ingress
