#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/acme/acme_manager.h"
#include "common/clock.h"
#include "common/process_runner.h"
#include "test/support/child_process.h"
#include "test/support/temp_dir.h"
#include "test/support/wait_until.h"

using namespace std::chrono_literals;
using namespace zlayer;
using namespace zlayer::agent::acme;
namespace fs = std::filesystem;
using zlayer::testing::ChildProcess;
using zlayer::testing::TempDir;

namespace {

// Our ports (18500-18599 on 127.0.0.1).
constexpr int kPebblePort = 18500;
constexpr int kManagementPort = 18501;
constexpr int kDnsPort = 18502;
constexpr int kChallengeManagementPort = 18503;
constexpr int kChallengePort = 18510;  // lego's HTTP-01 server; pebble's httpPort
constexpr int kTlsPort = 18511;

bool Listening(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

zlayer::testing::RunResult Run(const std::vector<std::string>& argv) {
  auto result = zlayer::testing::Run(argv, 30s);
  INFO(argv[0] << ": " << result.err);
  REQUIRE(result.status == zlayer::testing::ExitStatus::Exited(0));
  return result;
}

// pebble with a fresh CA and its DNS, as in shared/reference/acme-notes.md.
class Pebble {
 public:
  Pebble() {
    Run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir_ / "key.pem",
         "-out", ca_bundle(), "-days", "2", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1"});
    std::ofstream(dir_ / "config.json")
        << "{\"pebble\": {\"listenAddress\": \"127.0.0.1:" << kPebblePort
        << "\", \"managementListenAddress\": \"127.0.0.1:" << kManagementPort
        << "\", \"certificate\": \"" << ca_bundle() << "\", \"privateKey\": \"" << dir_ / "key.pem"
        << "\", \"httpPort\": " << kChallengePort << ", \"tlsPort\": " << kTlsPort
        << ", \"ocspResponderURL\": \"\", \"externalAccountBindingRequired\": false}}\n";
    dns_ = std::make_unique<ChildProcess>(zlayer::testing::SpawnOptions{
        .argv = {"/usr/bin/pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
                 "-dns01", "127.0.0.1:" + std::to_string(kDnsPort), "-http01", "", "-https01", "",
                 "-tlsalpn01", "", "-management",
                 "127.0.0.1:" + std::to_string(kChallengeManagementPort)},
        .env = {"PATH=/usr/bin:/bin"},
        .stdout_path = dir_ / "challtestsrv.log",
        .stderr_path = dir_ / "challtestsrv.log"});
    Start();
  }

  void Start() {
    pebble_ = std::make_unique<ChildProcess>(zlayer::testing::SpawnOptions{
        .argv = {"/usr/bin/pebble", "-config", dir_ / "config.json", "-dnsserver",
                 "127.0.0.1:" + std::to_string(kDnsPort)},
        .env = {"PATH=/usr/bin:/bin", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"},
        .stdout_path = dir_ / "pebble.log",
        .stderr_path = dir_ / "pebble.log"});
    REQUIRE(zlayer::testing::WaitUntil([] { return Listening(kPebblePort); }));
    REQUIRE(zlayer::testing::WaitUntil([] { return Listening(kManagementPort); }));
    // challtestsrv answers DNS once its management port listens.
    REQUIRE(zlayer::testing::WaitUntil([] { return Listening(kChallengeManagementPort); }));
  }
  void Stop() { pebble_->KillTree(); }

  std::string directory() const {
    return "https://127.0.0.1:" + std::to_string(kPebblePort) + "/dir";
  }
  std::string ca_bundle() const { return dir_ / "api.pem"; }
  // Writes pebble's issuing root and intermediate to files; returns their paths.
  std::pair<std::string, std::string> Chain() {
    std::string base = "https://127.0.0.1:" + std::to_string(kManagementPort);
    std::ofstream(dir_ / "root.pem") << Run({"curl", "-sSfk", base + "/roots/0"}).out;
    std::ofstream(dir_ / "intermediate.pem")
        << Run({"curl", "-sSfk", base + "/intermediates/0"}).out;
    return {dir_ / "root.pem", dir_ / "intermediate.pem"};
  }
  std::string Log() { return ReadFile(dir_ / "pebble.log"); }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> dns_;
  std::unique_ptr<ChildProcess> pebble_;
};

// One agent's worth of ACME: a real loop, pool, clock and process runner.
struct Node {
  boost::asio::io_context loop;
  boost::asio::thread_pool files{1};
  LoopClock clock{loop};
  AsioProcessRunner runner{loop};
  std::string log_path;
  int log_fd;
  Logger log;
  AcmeManager manager;
  std::vector<std::string> issued;

  Node(const AcmeSettings& settings, std::string log_file)
      : log_path(std::move(log_file)),
        log_fd(open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)),
        log("acme-test", LogLevel::kDebug, log_fd),
        manager(loop, files, clock, runner, settings, log) {
    manager.OnCertificate([this](const std::string& host) { issued.push_back(host); });
  }
  ~Node() {
    files.join();
    close(log_fd);
  }
  // Runs the loop until `condition` holds; false after `timeout`.
  bool RunUntil(const std::function<bool()>& condition, std::chrono::seconds timeout = 60s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop.restart();
      loop.run_for(50ms);
    }
    return true;
  }
  AcmeCertificateStatus StatusOf(const std::string& host) {
    for (auto& s : manager.Status()) {
      if (s.host == host) return s;
    }
    return {};
  }
};

AcmeSettings SettingsFor(const Pebble& pebble, const std::string& data_dir) {
  AcmeSettings settings;
  settings.lego_program = "/usr/bin/lego";
  settings.email = "ops@zlayer.test";
  settings.directory_url = pebble.directory();
  settings.ca_bundle = pebble.ca_bundle();
  settings.data_dir = data_dir;
  settings.challenge_address = "127.0.0.1:" + std::to_string(kChallengePort);
  settings.run_timeout = 60s;
  return settings;
}

std::string Serial(const std::string& path) {
  auto info = ReadCertificateInfo(path);
  REQUIRE(info.ok());
  return info->serial;
}

std::vector<fs::path> AccountFiles(const std::string& data_dir) {
  std::vector<fs::path> accounts;
  for (const auto& entry : fs::recursive_directory_iterator(data_dir + "/accounts")) {
    if (entry.path().filename() == "account.json") accounts.push_back(entry.path());
  }
  return accounts;
}

}  // namespace

TEST_CASE(
    "Given pebble, a certificate is obtained over HTTP-01 and verifies against pebble's chain; a "
    "second manager on the same data dir reuses the account") {
  Pebble pebble;
  TempDir data;
  AcmeSettings settings = SettingsFor(pebble, data / "acme");
  std::string crt = CertificatePath(settings, "web.zlayer.test");
  {
    Node node(settings, data / "first.log");
    node.manager.SetHosts({"web.zlayer.test"});
    node.manager.Start();
    INFO(ReadFile(node.log_path));
    REQUIRE(node.RunUntil([&] { return !node.issued.empty(); }));
    CHECK(node.issued == std::vector<std::string>{"web.zlayer.test"});
    AcmeCertificateStatus status = node.StatusOf("web.zlayer.test");
    CHECK(status.last_error.empty());
    REQUIRE(status.not_after.has_value());
    CHECK(*status.not_after > std::chrono::system_clock::now() + 24h * 30);
    CHECK_THAT(ReadFile(node.log_path), Catch::Contains("Registering account"));
  }
  CHECK(fs::exists(KeyPath(settings, "web.zlayer.test")));
  auto [root, intermediate] = pebble.Chain();
  auto verify = zlayer::testing::Run(
      {"openssl", "verify", "-CAfile", root, "-untrusted", intermediate, crt}, 30s);
  INFO(verify.out << verify.err);
  CHECK(verify.status == zlayer::testing::ExitStatus::Exited(0));
  auto san = zlayer::testing::Run(
      {"openssl", "x509", "-in", crt, "-noout", "-ext", "subjectAltName"}, 30s);
  CHECK_THAT(san.out, Catch::Contains("DNS:web.zlayer.test"));

  std::vector<fs::path> accounts = AccountFiles(settings.data_dir);
  REQUIRE(accounts.size() == 1);
  std::string account = ReadFile(accounts[0]);

  // A restarted node: the certificate is known, not obtained again; a new host
  // uses the same account.
  Node second(settings, data / "second.log");
  second.manager.SetHosts({"web.zlayer.test", "api.zlayer.test"});
  second.manager.Start();
  INFO(ReadFile(second.log_path));
  REQUIRE(second.RunUntil([&] { return !second.issued.empty(); }));
  CHECK(second.issued == std::vector<std::string>{"api.zlayer.test"});
  CHECK(second.StatusOf("web.zlayer.test").not_after.has_value());
  CHECK_THAT(ReadFile(second.log_path), !Catch::Contains("Registering account"));
  CHECK(AccountFiles(settings.data_dir) == accounts);
  CHECK(ReadFile(accounts[0]) == account);
}

TEST_CASE(
    "Given a window longer than the certificate's life, the certificate is renewed with a new "
    "serial") {
  Pebble pebble;
  TempDir data;
  AcmeSettings settings = SettingsFor(pebble, data / "acme");
  std::string crt = CertificatePath(settings, "renew.zlayer.test");
  {
    Node node(settings, data / "first.log");
    node.manager.SetHosts({"renew.zlayer.test"});
    node.manager.Start();
    INFO(ReadFile(node.log_path));
    REQUIRE(node.RunUntil([&] { return !node.issued.empty(); }));
  }
  std::string first_serial = Serial(crt);

  settings.renew_before = std::chrono::hours(24 * 365 * 10);  // pebble's are valid 5 years
  Node node(settings, data / "second.log");
  node.manager.SetHosts({"renew.zlayer.test"});
  node.manager.Start();
  INFO(ReadFile(node.log_path));
  REQUIRE(node.RunUntil([&] { return !node.issued.empty(); }));
  CHECK_THAT(ReadFile(node.log_path), Catch::Contains("renewing the certificate"));
  CHECK(Serial(crt) != first_serial);
  CHECK(node.StatusOf("renew.zlayer.test").last_error.empty());
  auto [root, intermediate] = pebble.Chain();
  auto verify = zlayer::testing::Run(
      {"openssl", "verify", "-CAfile", root, "-untrusted", intermediate, crt}, 30s);
  CHECK(verify.status == zlayer::testing::ExitStatus::Exited(0));
}

TEST_CASE("Given a stopped pebble, the host gets an error status and a next attempt, no crash") {
  Pebble pebble;
  pebble.Stop();
  TempDir data;
  AcmeSettings settings = SettingsFor(pebble, data / "acme");
  settings.first_retry = 1h;
  Node node(settings, data / "node.log");
  node.manager.SetHosts({"down.zlayer.test"});
  node.manager.Start();
  INFO(ReadFile(node.log_path));
  REQUIRE(node.RunUntil([&] { return !node.StatusOf("down.zlayer.test").last_error.empty(); }));
  AcmeCertificateStatus status = node.StatusOf("down.zlayer.test");
  CHECK_THAT(status.last_error, Catch::Contains("connection refused"));
  CHECK_FALSE(status.in_progress);
  CHECK_FALSE(status.not_after.has_value());
  REQUIRE(status.next_attempt.has_value());
  CHECK(*status.next_attempt > std::chrono::system_clock::now() + 59min);
  CHECK(node.issued.empty());
  CHECK_FALSE(fs::exists(CertificatePath(settings, "down.zlayer.test")));
}
