#include "agent/acme/acme_manager.h"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>
#include <deque>

#include "common/rfc3339.h"
#include "test/support/manual_clock.h"
#include "test/support/temp_dir.h"
#include "test/unit/acme/test_certificates.h"

using namespace std::chrono_literals;
using namespace zlayer;
using namespace zlayer::agent::acme;
namespace certs = zlayer::agent::acme::testing;

namespace {

constexpr auto kDay = std::chrono::hours(24);

// Keeps every run until the test finishes it; a successful run can write the
// certificate lego would have written.
class FakeLego : public ProcessRunner {
 public:
  struct Pending {
    ProcessRequest request;
    ProcessCallback done;
  };
  std::deque<Pending> running;
  std::vector<ProcessRequest> requests;

  void Run(ProcessRequest request, ProcessCallback done) override {
    requests.push_back(request);
    running.push_back({std::move(request), std::move(done)});
  }
  std::string Host(size_t i) const {
    for (const std::string& arg : requests.at(i).args) {
      if (arg.starts_with("--domains=")) return arg.substr(sizeof("--domains=") - 1);
    }
    return "";
  }
  std::string Verb(size_t i) const {
    for (const std::string& arg : requests.at(i).args) {
      if (arg == "run" || arg == "renew") return arg;
    }
    return "";
  }
  // Ends the oldest run with `exit_code` and `stderr_data`.
  void Finish(int exit_code, std::string stderr_data = "") {
    REQUIRE_FALSE(running.empty());
    Pending run = std::move(running.front());
    running.pop_front();
    ProcessResult result;
    result.exit_code = exit_code;
    result.stderr_data = std::move(stderr_data);
    run.done(std::move(result));
  }
};

struct Fixture {
  boost::asio::io_context loop;
  boost::asio::thread_pool files{1};
  zlayer::testing::ManualClock clock{loop};
  zlayer::testing::TempDir dir;
  FakeLego lego;
  Logger log{"acme-test", LogLevel::kError};
  AcmeSettings settings = [this] {
    AcmeSettings s;
    s.lego_program = "/usr/bin/lego";
    s.email = "ops@example.com";
    s.directory_url = "https://ca.test/dir";
    s.data_dir = dir.path();
    s.renew_before = 30 * kDay;
    s.check_interval = kDay;
    s.first_retry = 1min;
    s.max_retry = 1h;
    return s;
  }();
  std::unique_ptr<AcmeManager> manager;
  std::vector<std::string> issued;

  ~Fixture() { files.join(); }

  AcmeManager& Make() {
    manager = std::make_unique<AcmeManager>(loop, files, clock, lego, settings, log);
    manager->OnCertificate([this](const std::string& host) { issued.push_back(host); });
    return *manager;
  }
  // What lego writes on success: a certificate valid for `validity`.
  void Issue(const std::string& host, std::chrono::nanoseconds validity, long serial) {
    certs::WriteCertificate(
        CertificatePath(settings, host), host,
        std::chrono::time_point_cast<std::chrono::seconds>(clock.WallNow() + validity), serial);
  }
  // Lego succeeds for the oldest run, having written a certificate.
  void Succeed(std::chrono::nanoseconds validity = 90 * kDay, long serial = 1) {
    Issue(lego.Host(lego.requests.size() - lego.running.size()), validity, serial);
    lego.Finish(0);
    clock.Settle();
  }
  void Fail(std::string stderr_data = "2026/01/01 00:00:00 Could not obtain: connection refused") {
    lego.Finish(1, std::move(stderr_data));
    clock.Settle();
  }
  AcmeCertificateStatus StatusOf(const std::string& host) {
    for (auto& s : manager->Status()) {
      if (s.host == host) return s;
    }
    FAIL("no status for " << host);
    return {};
  }
};

}  // namespace

TEST_CASE("Given a host without a certificate, Start obtains one and reports it") {
  Fixture f;
  AcmeManager& manager = f.Make();
  manager.SetHosts({"www.example.com"});
  f.clock.Settle();
  CHECK(f.lego.requests.empty());  // nothing before Start

  manager.Start();
  f.clock.Settle();
  REQUIRE(f.lego.requests.size() == 1);
  CHECK(f.lego.Verb(0) == "run");
  CHECK(f.lego.Host(0) == "www.example.com");
  CHECK(f.StatusOf("www.example.com").in_progress);

  f.Succeed(90 * kDay);
  CHECK(f.issued == std::vector<std::string>{"www.example.com"});
  AcmeCertificateStatus status = f.StatusOf("www.example.com");
  CHECK_FALSE(status.in_progress);
  CHECK(status.last_error.empty());
  REQUIRE(status.not_after.has_value());
  CHECK(*status.not_after > f.clock.WallNow() + 89 * kDay);
  // The next attempt is the start of the renewal window.
  REQUIRE(status.next_attempt.has_value());
  CHECK(*status.next_attempt > f.clock.WallNow() + 59 * kDay);
  CHECK(*status.next_attempt < f.clock.WallNow() + 61 * kDay);
}

TEST_CASE("Given a valid certificate on disk, nothing runs until its renewal window opens") {
  Fixture f;
  f.Issue("www.example.com", 40 * kDay, 7);
  AcmeManager& manager = f.Make();
  manager.SetHosts({"www.example.com"});
  manager.Start();
  f.clock.Settle();
  CHECK(f.lego.requests.empty());
  REQUIRE(f.StatusOf("www.example.com").not_after.has_value());

  f.clock.Advance(9 * kDay);
  CHECK(f.lego.requests.empty());
  f.clock.Advance(1 * kDay + 1h);
  REQUIRE(f.lego.requests.size() == 1);
  CHECK(f.lego.Verb(0) == "renew");

  f.Succeed(90 * kDay, 8);
  CHECK(f.issued == std::vector<std::string>{"www.example.com"});
  f.clock.Advance(30 * kDay);
  CHECK(f.lego.requests.size() == 1);
}

TEST_CASE("A renewal that leaves the same certificate is a failure, retried later, not at once") {
  Fixture f;
  f.Issue("www.example.com", 10 * kDay, 7);
  AcmeManager& manager = f.Make();
  manager.SetHosts({"www.example.com"});
  manager.Start();
  f.clock.Settle();
  REQUIRE(f.lego.requests.size() == 1);
  f.lego.Finish(0);  // lego said "no renewal"
  f.clock.Settle();
  CHECK(f.lego.requests.size() == 1);
  CHECK(f.issued.empty());
  CHECK(f.StatusOf("www.example.com").last_error == "lego did not renew the certificate");
}

TEST_CASE(
    "Failures are retried after first_retry, doubling up to max_retry, and a success resets it") {
  Fixture f;
  AcmeManager& manager = f.Make();
  manager.SetHosts({"www.example.com"});
  manager.Start();
  f.clock.Settle();

  std::vector<std::chrono::nanoseconds> waits;
  for (int i = 0; i < 8; ++i) {
    REQUIRE(f.lego.running.size() == 1);
    f.Fail();
    AcmeCertificateStatus status = f.StatusOf("www.example.com");
    CHECK(status.last_error == "Could not obtain: connection refused");
    REQUIRE(status.next_attempt.has_value());
    auto before = f.clock.Elapsed();
    REQUIRE(f.clock.AdvanceUntil([&] { return !f.lego.running.empty(); }, 2h));
    waits.push_back(f.clock.Elapsed() - before);
  }
  CHECK(waits ==
        std::vector<std::chrono::nanoseconds>{1min, 2min, 4min, 8min, 16min, 32min, 1h, 1h});

  f.Succeed();
  CHECK(f.StatusOf("www.example.com").last_error.empty());
  f.Issue("www.example.com", 1 * kDay, 2);  // expiring: renewal due at the next check
  REQUIRE(f.clock.AdvanceUntil([&] { return !f.lego.running.empty(); }, 2 * kDay));
  f.Fail();
  auto before = f.clock.Elapsed();
  REQUIRE(f.clock.AdvanceUntil([&] { return !f.lego.running.empty(); }, 2h));
  CHECK(f.clock.Elapsed() - before == 1min);
}

TEST_CASE("A CA's retry-after time later than the back-off is honoured") {
  Fixture f;
  AcmeManager& manager = f.Make();
  manager.SetHosts({"www.example.com"});
  manager.Start();
  f.clock.Settle();
  // ManualClock's wall time starts at 2026-01-01T00:00:00Z.
  f.Fail(
      "2026/01/01 00:00:00 error: 429 :: rateLimited :: too many certificates, retry after "
      "2026-01-01 05:00:00 UTC: see https://letsencrypt.org/docs/rate-limits/");
  REQUIRE(f.StatusOf("www.example.com").next_attempt.has_value());
  CHECK(*f.StatusOf("www.example.com").next_attempt ==
        ParseRfc3339("2026-01-01T05:00:00Z").value());
  f.clock.Advance(5h - 1s);
  CHECK(f.lego.requests.size() == 1);
  f.clock.Advance(1s);
  CHECK(f.lego.requests.size() == 2);
}

TEST_CASE("A wildcard host is refused with a reason and never runs lego") {
  Fixture f;
  AcmeManager& manager = f.Make();
  manager.SetHosts({"*.example.com", "bad_name.example.com"});
  manager.Start();
  f.clock.Advance(2 * kDay);
  CHECK(f.lego.requests.empty());
  AcmeCertificateStatus wildcard = f.StatusOf("*.example.com");
  CHECK(wildcard.refused);
  CHECK_THAT(wildcard.last_error, Catch::Contains("HTTP-01 cannot validate wildcard names"));
  CHECK_FALSE(wildcard.next_attempt.has_value());
  CHECK(f.StatusOf("bad_name.example.com").refused);
}

TEST_CASE("Only one lego runs at a time; due hosts wait their turn in host order") {
  Fixture f;
  AcmeManager& manager = f.Make();
  manager.Start();
  manager.SetHosts({"c.example.com", "a.example.com", "b.example.com"});
  f.clock.Settle();
  REQUIRE(f.lego.requests.size() == 1);
  CHECK(f.lego.Host(0) == "a.example.com");
  AcmeCertificateStatus waiting = f.StatusOf("b.example.com");
  CHECK_FALSE(waiting.in_progress);
  CHECK(waiting.next_attempt == f.clock.WallNow());

  f.Fail();  // a fails: b goes next, then c
  REQUIRE(f.lego.requests.size() == 2);
  CHECK(f.lego.running.size() == 1);
  CHECK(f.lego.Host(1) == "b.example.com");
  f.Succeed();
  REQUIRE(f.lego.requests.size() == 3);
  CHECK(f.lego.running.size() == 1);
  CHECK(f.lego.Host(2) == "c.example.com");
  f.Succeed();
  CHECK(f.lego.running.empty());
  CHECK(f.issued == std::vector<std::string>{"b.example.com", "c.example.com"});
}

TEST_CASE("A host no longer listed is forgotten, and its run in flight is ignored") {
  Fixture f;
  AcmeManager& manager = f.Make();
  manager.Start();
  manager.SetHosts({"a.example.com", "b.example.com"});
  f.clock.Settle();
  REQUIRE(f.lego.running.size() == 1);
  manager.SetHosts({"b.example.com"});
  f.clock.Settle();
  REQUIRE(manager.Status().size() == 1);
  CHECK(manager.Status()[0].host == "b.example.com");
  CHECK(f.lego.running.size() == 1);  // still one at a time: a's run goes on

  f.Succeed();  // a's run ends: ignored, then b runs
  CHECK(f.issued.empty());
  REQUIRE(f.lego.requests.size() == 2);
  CHECK(f.lego.Host(1) == "b.example.com");
}

TEST_CASE("A lego that cannot be started or times out is a failure with its message") {
  Fixture f;
  AcmeManager& manager = f.Make();
  manager.SetHosts({"a.example.com"});
  manager.Start();
  f.clock.Settle();
  FakeLego::Pending run = std::move(f.lego.running.front());
  f.lego.running.pop_front();
  run.done(DeadlineExceededError("/usr/bin/lego: killed after 120s"));
  f.clock.Settle();
  CHECK(f.StatusOf("a.example.com").last_error == "lego: /usr/bin/lego: killed after 120s");
  CHECK(f.StatusOf("a.example.com").next_attempt == f.clock.WallNow() + 1min);
}

TEST_CASE("Back-off doubles from first_retry and stops at max_retry") {
  AcmeSettings settings;
  settings.first_retry = 1min;
  settings.max_retry = 24h;
  CHECK(RetryDelay(settings, 1) == 1min);
  CHECK(RetryDelay(settings, 2) == 2min);
  CHECK(RetryDelay(settings, 11) == 1024min);
  CHECK(RetryDelay(settings, 12) == 24h);
  CHECK(RetryDelay(settings, 1000) == 24h);
}

TEST_CASE("A certificate shorter-lived than the window is renewed once per check interval") {
  Fixture f;
  f.settings.renew_before = 100 * kDay;
  AcmeManager& manager = f.Make();
  manager.SetHosts({"www.example.com"});
  manager.Start();
  f.clock.Settle();
  f.Succeed(90 * kDay, 1);
  CHECK(f.lego.requests.size() == 1);
  f.clock.Advance(kDay - 1s);
  CHECK(f.lego.requests.size() == 1);
  f.clock.Advance(1s);
  REQUIRE(f.lego.requests.size() == 2);
  CHECK(f.lego.Verb(1) == "renew");
  f.Succeed(90 * kDay, 2);
  CHECK(f.issued.size() == 2);
  CHECK(f.lego.requests.size() == 2);
}
