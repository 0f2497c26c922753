#include "agent/ingress/certificates.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "test/support/temp_dir.h"

using zlayer::agent::ingress::CertificateDirs;
using zlayer::agent::ingress::CertificateDirsSignature;
using zlayer::agent::ingress::CertificateEntry;
using zlayer::agent::ingress::CertificateSet;
using zlayer::agent::ingress::CertificateSource;
using zlayer::agent::ingress::PrepareCertificates;
using zlayer::testing::TempDir;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void Write(const std::string& path, const std::string& content) { std::ofstream(path) << content; }

int Run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

// A certificate for `name` (SAN and CN) valid for `days`, signed by itself,
// as <dir>/<stem>.crt and <dir>/<stem>.key, made by the openssl CLI.
void MakeUserPair(const std::string& dir, const std::string& stem, const std::string& name,
                  int days = 30) {
  std::filesystem::create_directories(dir);
  const std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
      "-nodes -keyout '" +
      dir + "/" + stem + ".key' -out '" + dir + "/" + stem + ".crt' -days " + std::to_string(days) +
      " -subj '/CN=" + name + "' -addext 'subjectAltName=DNS:" + name + "'";
  REQUIRE(Run(command) == 0);
}

// The subjectAltName DNS names of the first certificate in the PEM file at `path`.
std::vector<std::string> DnsNames(const std::string& path) {
  std::vector<std::string> names;
  FILE* file = std::fopen(path.c_str(), "r");
  REQUIRE(file != nullptr);
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  REQUIRE(cert != nullptr);
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type != GEN_DNS) continue;
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                       ASN1_STRING_length(name->d.dNSName));
  }
  GENERAL_NAMES_free(sans);
  X509_free(cert);
  return names;
}

struct Node {
  TempDir temp;
  CertificateDirs dirs{temp / "data/certs", temp / "data/acme", temp / "data/ingress/self-signed",
                       temp / "run/ingress/certs"};

  CertificateSet Prepare(const std::vector<std::string>& hosts,
                         Clock::time_point now = Clock::now()) {
    auto set = PrepareCertificates(hosts, dirs, now);
    REQUIRE(set.ok());
    return *set;
  }
};

const CertificateEntry& EntryFor(const CertificateSet& set, const std::string& host) {
  for (const CertificateEntry& entry : set.entries) {
    if (entry.host == host) return entry;
  }
  FAIL("no entry for " << host);
  throw;
}

struct FileId {
  ino_t inode;
  timespec mtime;
};
FileId IdOf(const std::string& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return {info.st_ino, info.st_mtim};
}
bool Same(const FileId& a, const FileId& b) {
  return a.inode == b.inode && a.mtime.tv_sec == b.mtime.tv_sec &&
         a.mtime.tv_nsec == b.mtime.tv_nsec;
}

}  // namespace

TEST_CASE("The user's certificate for the exact host wins over the wildcard of its parent") {
  Node node;
  MakeUserPair(node.dirs.user_dir, "api.example.com", "api.example.com");
  MakeUserPair(node.dirs.user_dir, "_wildcard.example.com", "*.example.com");
  CertificateSet set = node.Prepare({"api.example.com", "www.example.com"});
  const CertificateEntry& api = EntryFor(set, "api.example.com");
  CHECK(api.source == CertificateSource::kUser);
  CHECK(DnsNames(api.pem_path) == std::vector<std::string>{"api.example.com"});
  CHECK(api.note.empty());
  const CertificateEntry& www = EntryFor(set, "www.example.com");
  CHECK(www.source == CertificateSource::kUser);
  CHECK(DnsNames(www.pem_path) == std::vector<std::string>{"*.example.com"});
  CHECK(Read(api.pem_path).find("PRIVATE KEY") != std::string::npos);
  CHECK(set.skipped.empty());
}

TEST_CASE("lego's issuer files beside ACME's certificates are neither served nor reported") {
  Node node;
  MakeUserPair(node.dirs.acme_dir, "shop.example.com", "shop.example.com");
  std::filesystem::copy_file(node.dirs.acme_dir + "/shop.example.com.crt",
                             node.dirs.acme_dir + "/shop.example.com.issuer.crt");
  CertificateSet set = node.Prepare({"shop.example.com"});
  CHECK(EntryFor(set, "shop.example.com").source == CertificateSource::kAcme);
  CHECK(set.skipped.empty());
}

TEST_CASE("A wildcard certificate covers one level below its domain, not two, nor the domain") {
  Node node;
  MakeUserPair(node.dirs.user_dir, "_wildcard.example.com", "*.example.com");
  CertificateSet set = node.Prepare({"a.example.com", "a.b.example.com", "example.com"});
  CHECK(EntryFor(set, "a.example.com").source == CertificateSource::kUser);
  for (const char* host : {"a.b.example.com", "example.com"}) {
    INFO(host);
    const CertificateEntry& entry = EntryFor(set, host);
    CHECK(entry.source == CertificateSource::kSelfSigned);
    CHECK(DnsNames(entry.pem_path) == std::vector<std::string>{host});
    CHECK_THAT(entry.note, Catch::Contains("no certificate for " + std::string(host)) &&
                               Catch::Contains("self-signed"));
  }
}

TEST_CASE("ACME's certificate serves a host the user has none for; the user's wins otherwise") {
  Node node;
  MakeUserPair(node.dirs.user_dir, "api.example.com", "api.example.com");
  MakeUserPair(node.dirs.acme_dir, "api.example.com", "api.example.com");
  MakeUserPair(node.dirs.acme_dir, "shop.example.com", "shop.example.com");
  CertificateSet set = node.Prepare({"api.example.com", "shop.example.com"});
  CHECK(EntryFor(set, "api.example.com").source == CertificateSource::kUser);
  CHECK(EntryFor(set, "shop.example.com").source == CertificateSource::kAcme);
}

TEST_CASE(
    "A host without a certificate gets a self-signed one, kept and reused until near expiry") {
  Node node;
  const Clock::time_point now = Clock::now();
  CertificateSet first = node.Prepare({"shop.example.com", "*.apps.example.com"}, now);
  const CertificateEntry shop = EntryFor(first, "shop.example.com");
  CHECK(shop.source == CertificateSource::kSelfSigned);
  CHECK(shop.not_after > now + 89 * 24h);
  CHECK(shop.not_after <= now + 90 * 24h + 1s);
  CHECK(DnsNames(EntryFor(first, "*.apps.example.com").pem_path) ==
        std::vector<std::string>{"*.apps.example.com"});
  const std::string kept = node.dirs.self_signed_dir + "/shop.example.com.pem";
  const std::string kept_pem = Read(kept);
  const FileId kept_id = IdOf(kept);
  const FileId out_id = IdOf(shop.pem_path);

  SECTION("a later call, or a restart, serves the same one without rewriting a file") {
    CertificateSet second = node.Prepare({"shop.example.com", "*.apps.example.com"}, now + 24h);
    CHECK(second == first);
    CHECK(Same(IdOf(kept), kept_id));
    CHECK(Same(IdOf(shop.pem_path), out_id));
  }
  SECTION("within 30 days of its expiry it is replaced by a new one") {
    CertificateSet later = node.Prepare({"shop.example.com"}, now + 61 * 24h);
    CHECK(Read(kept) != kept_pem);
    CHECK(EntryFor(later, "shop.example.com").not_after > now + 150 * 24h);
  }
  SECTION("the kept files are readable by their owner only") {
    struct stat info {};
    REQUIRE(::stat(kept.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    REQUIRE(::stat(shop.pem_path.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
  }
}

TEST_CASE("The node's default is the first line of the crt-list, with no SNI filter") {
  Node node;
  MakeUserPair(node.dirs.user_dir, "api.example.com", "api.example.com");
  CertificateSet set = node.Prepare({"", "api.example.com", "shop.example.com"});
  REQUIRE(set.entries.size() == 3);
  CHECK(set.entries[0].host == "");
  CHECK(set.entries[0].source == CertificateSource::kSelfSigned);
  CHECK(DnsNames(set.entries[0].pem_path) == std::vector<std::string>{"zlayer-node"});
  const std::string out = node.dirs.out_dir;
  CHECK(set.crt_list == out + "/default.pem\n" +                                            //
                            out + "/self-signed_shop.example.com.pem shop.example.com\n" +  //
                            out + "/user_api.example.com.pem api.example.com\n");
}

TEST_CASE("Every other valid user certificate is served under its own names") {
  Node node;
  MakeUserPair(node.dirs.user_dir, "other.example.org", "other.example.org");
  CertificateSet set = node.Prepare({});
  REQUIRE(set.entries.size() == 2);
  CHECK(set.entries[1].host == "other.example.org");
  CHECK(set.entries[1].source == CertificateSource::kUser);
  CHECK_THAT(set.crt_list, Catch::Contains("user_other.example.org.pem other.example.org\n"));
}

TEST_CASE("A user key that does not match its certificate is skipped with a note naming it") {
  Node node;
  MakeUserPair(node.dirs.user_dir, "api.example.com", "api.example.com");
  MakeUserPair(node.dirs.user_dir, "other.example.com", "other.example.com");
  std::filesystem::copy_file(node.dirs.user_dir + "/other.example.com.key",
                             node.dirs.user_dir + "/api.example.com.key",
                             std::filesystem::copy_options::overwrite_existing);
  CertificateSet set = node.Prepare({"api.example.com"});
  CHECK(EntryFor(set, "api.example.com").source == CertificateSource::kSelfSigned);
  REQUIRE(set.skipped.size() == 1);
  CHECK_THAT(set.skipped[0], Catch::Contains(node.dirs.user_dir + "/api.example.com.key") &&
                                 Catch::Contains("does not match") && Catch::EndsWith("skipped"));
}

TEST_CASE("An expired user certificate, or half of a pair, or garbage is skipped, never fatal") {
  Node node;
  MakeUserPair(node.dirs.user_dir, "api.example.com", "api.example.com", 1);
  MakeUserPair(node.dirs.user_dir, "lonely.example.com", "lonely.example.com");
  std::filesystem::remove(node.dirs.user_dir + "/lonely.example.com.key");
  Write(node.dirs.user_dir + "/junk.example.com.crt", "not a certificate\n");
  Write(node.dirs.user_dir + "/junk.example.com.key", "not a key\n");
  CertificateSet set = node.Prepare({"api.example.com"}, Clock::now() + 48h);
  CHECK(EntryFor(set, "api.example.com").source == CertificateSource::kSelfSigned);
  REQUIRE(set.skipped.size() == 3);
  CHECK_THAT(set.skipped[0], Catch::Contains("api.example.com.crt: expired on "));
  CHECK_THAT(set.skipped[1], Catch::Contains("junk.example.com.crt: no PEM certificate"));
  CHECK_THAT(set.skipped[2], Catch::Contains("lonely.example.com.crt: no lonely.example.com.key"));
  CHECK(set.entries.size() == 2);
}

TEST_CASE(
    "A user file whose name is not a host name is skipped, since a crt-list could not "
    "carry it") {
  Node node;
  MakeUserPair(node.dirs.user_dir, "my cert", "api.example.com");
  CertificateSet set = node.Prepare({"api.example.com"});
  CHECK(EntryFor(set, "api.example.com").source == CertificateSource::kSelfSigned);
  REQUIRE(set.skipped.size() == 1);
  CHECK_THAT(set.skipped[0], Catch::Contains("my cert.crt: not named <domain>.crt"));
  CHECK_THAT(set.crt_list, !Catch::Contains("my cert"));
}

TEST_CASE("PEMs the set no longer uses are removed from the output directory") {
  Node node;
  CertificateSet first = node.Prepare({"shop.example.com"});
  const std::string shop = EntryFor(first, "shop.example.com").pem_path;
  CHECK(std::filesystem::exists(shop));
  node.Prepare({});
  CHECK_FALSE(std::filesystem::exists(shop));
  CHECK(std::filesystem::exists(node.dirs.out_dir + "/default.pem"));
}

TEST_CASE(
    "The directories' signature changes when a certificate file is added, replaced or "
    "removed, and not otherwise") {
  Node node;
  const std::string absent = CertificateDirsSignature(node.dirs);
  CHECK(CertificateDirsSignature(node.dirs) == absent);
  MakeUserPair(node.dirs.user_dir, "api.example.com", "api.example.com");
  const std::string added = CertificateDirsSignature(node.dirs);
  CHECK(added != absent);
  node.Prepare({"api.example.com"});
  Write(node.dirs.user_dir + "/README", "not a certificate file\n");
  CHECK(CertificateDirsSignature(node.dirs) == added);

  SECTION("replaced by rename, as cert tools do") {
    MakeUserPair(node.dirs.user_dir, "new", "api.example.com");
    std::filesystem::rename(node.dirs.user_dir + "/new.crt",
                            node.dirs.user_dir + "/api.example.com.crt");
    const std::string replaced = CertificateDirsSignature(node.dirs);
    CHECK(replaced != added);
    std::filesystem::rename(node.dirs.user_dir + "/new.key",
                            node.dirs.user_dir + "/api.example.com.key");
    CHECK(CertificateDirsSignature(node.dirs) != replaced);
  }
  SECTION("rewritten in place with the same size") {
    const std::string path = node.dirs.user_dir + "/api.example.com.crt";
    const std::string content = Read(path);
    std::this_thread::sleep_for(5ms);  // a new mtime, even on a coarse clock
    Write(path, content);
    CHECK(CertificateDirsSignature(node.dirs) != added);
  }
  SECTION("removed") {
    std::filesystem::remove(node.dirs.user_dir + "/api.example.com.key");
    CHECK(CertificateDirsSignature(node.dirs) != added);
  }
  SECTION("added to the ACME directory") {
    MakeUserPair(node.dirs.acme_dir, "shop.example.com", "shop.example.com");
    CHECK(CertificateDirsSignature(node.dirs) != added);
  }
}

namespace {

// A HAProxy configuration with one TLS listener on 127.0.0.1:18399 that loads `crt_list`.
std::string HaproxyConfig(const std::string& crt_list, const std::string& pid_file) {
  return "global\n  pidfile " + pid_file +
         "\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server "
         "5s\nfrontend tls\n  bind 127.0.0.1:18399 ssl crt-list " +
         crt_list +
         " alpn h2,http/1.1\n  http-request return status 200 content-type text/plain "
         "string ok\n";
}

// The subject's CN of the certificate that 127.0.0.1:18399 presents for `sni`
// ("" = no SNI).
std::string ServedCommonName(const TempDir& temp, const std::string& sni) {
  const std::string out = temp / "served.pem";
  const std::string command = "openssl s_client -connect 127.0.0.1:18399 " +
                              (sni.empty() ? std::string("-noservername") : "-servername " + sni) +
                              " </dev/null 2>/dev/null | openssl x509 -noout -subject -nameopt "
                              "multiline > " +
                              out;
  std::system(command.c_str());
  const std::string subject = Read(out);
  const size_t at = subject.find("commonName");
  if (at == std::string::npos) return "";
  const size_t equals = subject.find("= ", at);
  return subject.substr(equals + 2, subject.find('\n', equals) - equals - 2);
}

}  // namespace

TEST_CASE("HAProxy accepts the crt-list and serves each host its certificate by SNI", "[haproxy]") {
  if (Run("command -v haproxy") != 0) {
    WARN("haproxy is not installed");
    return;
  }
  Node node;
  MakeUserPair(node.dirs.user_dir, "api.example.com", "api.example.com");
  MakeUserPair(node.dirs.user_dir, "_wildcard.example.com", "*.example.com");
  CertificateSet set = node.Prepare({"api.example.com", "www.example.com", "shop.example.org"});
  const std::string crt_list = node.temp / "crt-list";
  Write(crt_list, set.crt_list);
  const std::string config = node.temp / "haproxy.cfg";
  const std::string pid_file = node.temp / "haproxy.pid";
  Write(config, HaproxyConfig(crt_list, pid_file));
  REQUIRE(Run("haproxy -c -f " + config) == 0);

  REQUIRE(Run("haproxy -D -f " + config) == 0);
  pid_t pid = 0;
  for (int i = 0; i < 100 && pid == 0; ++i) {
    std::this_thread::sleep_for(20ms);
    std::istringstream(Read(pid_file)) >> pid;
  }
  REQUIRE(pid > 0);
  struct Stop {
    pid_t pid;
    ~Stop() { ::kill(pid, SIGTERM); }
  } stop{pid};
  CHECK(ServedCommonName(node.temp, "api.example.com") == "api.example.com");
  CHECK(ServedCommonName(node.temp, "www.example.com") == "*.example.com");
  CHECK(ServedCommonName(node.temp, "shop.example.org") == "shop.example.org");
  CHECK(ServedCommonName(node.temp, "unknown.example.net") == "zlayer-node");
  CHECK(ServedCommonName(node.temp, "") == "zlayer-node");
}
