#include "agent/health/network_prober.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <optional>

using namespace std::chrono_literals;
using namespace zlayer;
using namespace zlayer::agent::health;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// An HTTP server on 127.0.0.1 (same loop) answering every request with
// `response`, or never answering when it is empty. With `eager`, it writes
// the response as soon as a client connects, without reading a request.
class CannedHttpServer {
 public:
  CannedHttpServer(asio::io_context& io, std::string response, bool eager = false)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        response_(std::move(response)),
        eager_(eager) {
    Accept();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string request;

 private:
  void Accept() {
    acceptor_.async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
      if (error) return;
      auto peer = std::make_shared<tcp::socket>(std::move(socket));
      if (eager_) {
        asio::async_write(*peer, asio::buffer(response_), [peer](auto&&...) {});
        return Accept();
      }
      asio::async_read_until(*peer, buffer_, "\r\n\r\n",
                             [this, peer](const boost::system::error_code& error, size_t n) {
                               if (error) return;
                               request.assign(asio::buffers_begin(buffer_.data()),
                                              asio::buffers_begin(buffer_.data()) + n);
                               if (response_.empty()) {
                                 idle_.push_back(peer);
                                 return;
                               }
                               asio::async_write(*peer, asio::buffer(response_),
                                                 [peer](auto&&...) {});
                             });
      Accept();
    });
  }
  tcp::acceptor acceptor_;
  std::string response_;
  bool eager_;
  asio::streambuf buffer_;
  std::vector<std::shared_ptr<tcp::socket>> idle_;
};

CheckResult ProbeAndWait(asio::io_context& io, Prober& prober, const spec::HealthCheck& check,
                         std::chrono::nanoseconds timeout = 10s) {
  std::optional<CheckResult> result;
  prober.Probe(ProbeTarget{"web-0"}, check, timeout, [&](CheckResult r) { result = r; });
  CHECK_FALSE(result.has_value());  // never called inline
  while (!result) io.run_one();
  return *result;
}

uint16_t ClosedPort(asio::io_context& io) {
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();  // closed when `a` goes
}

spec::HealthCheck Http(std::string url, int expect = 200) {
  spec::HealthCheck c;
  c.type = spec::HealthCheckType::kHttp;
  c.url = std::move(url);
  c.expect_status = expect;
  return c;
}

}  // namespace

TEST_CASE("URLs of http checks parse into host, port and target") {
  struct Case {
    const char* url;
    bool https;
    const char* host;
    const char* port;
    const char* target;
  };
  const Case cases[] = {
      {"http://127.0.0.1:8080/", false, "127.0.0.1", "8080", "/"},
      {"http://localhost", false, "localhost", "80", "/"},
      {"https://example.test/healthz?x=1#frag", true, "example.test", "443", "/healthz?x=1"},
      {"http://[::1]:81/a", false, "::1", "81", "/a"},
      {"http://h:1?q", false, "h", "1", "/?q"},
  };
  for (const Case& c : cases) {
    INFO(c.url);
    auto url = ParseHttpUrl(c.url);
    REQUIRE(url.ok());
    CHECK(url->https == c.https);
    CHECK(url->host == c.host);
    CHECK(url->port == c.port);
    CHECK(url->target == c.target);
  }
}

TEST_CASE("Bad check URLs are rejected with the URL and the reason") {
  for (const char* bad : {"ftp://h/", "http://", "http://h:0/", "http://h:99999/", "http://h:x/",
                          "http://u@h/", "http://[::1/"}) {
    INFO(bad);
    auto url = ParseHttpUrl(bad);
    REQUIRE_FALSE(url.ok());
    CHECK(url.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(url.status().message(), Catch::Contains(bad));
  }
}

TEST_CASE("A tcp check passes when the port accepts and fails when it is closed") {
  asio::io_context io;
  NetworkProber prober(io);
  tcp::acceptor open(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  spec::HealthCheck check;
  check.type = spec::HealthCheckType::kTcp;
  check.port = open.local_endpoint().port();
  CheckResult up = ProbeAndWait(io, prober, check);
  CHECK(up.ok);
  CHECK_THAT(up.output, Catch::Contains("connected to 127.0.0.1:"));

  check.port = ClosedPort(io);
  CheckResult down = ProbeAndWait(io, prober, check);
  CHECK_FALSE(down.ok);
  CHECK_THAT(down.output, Catch::Contains("refused"));
}

TEST_CASE("An http check passes on the expected status and sends a proper GET") {
  asio::io_context io;
  NetworkProber prober(io);
  CannedHttpServer server(io, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/healthz";
  CheckResult result = ProbeAndWait(io, prober, Http(url));
  CHECK(result.ok);
  CHECK_THAT(result.output, Catch::Contains("200 OK") && Catch::Contains("hello"));
  CHECK_THAT(server.request, Catch::StartsWith("GET /healthz HTTP/1.1\r\n"));
  CHECK_THAT(server.request, Catch::Contains("Host: 127.0.0.1:"));
}

TEST_CASE("An http check fails on another status, a closed port or no answer in time") {
  asio::io_context io;
  NetworkProber prober(io);
  CannedHttpServer failing(io, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  CheckResult wrong =
      ProbeAndWait(io, prober, Http("http://127.0.0.1:" + std::to_string(failing.port()) + "/"));
  CHECK_FALSE(wrong.ok);
  CHECK_THAT(wrong.output, Catch::Contains("503") && Catch::Contains("expected 200"));

  CheckResult closed =
      ProbeAndWait(io, prober, Http("http://127.0.0.1:" + std::to_string(ClosedPort(io)) + "/"));
  CHECK_FALSE(closed.ok);
  CHECK_THAT(closed.output, Catch::Contains("connect"));

  CannedHttpServer silent(io, "");
  CheckResult slow = ProbeAndWait(
      io, prober, Http("http://127.0.0.1:" + std::to_string(silent.port()) + "/"), 200ms);
  CHECK_FALSE(slow.ok);
  CHECK_THAT(slow.output, Catch::Contains("timed out"));
}

TEST_CASE("A check whose expected status is not 200 passes on that status") {
  asio::io_context io;
  NetworkProber prober(io);
  CannedHttpServer server(io, "HTTP/1.1 204 No Content\r\n\r\n");
  CHECK(
      ProbeAndWait(io, prober, Http("http://127.0.0.1:" + std::to_string(server.port()) + "/", 204))
          .ok);
}

TEST_CASE("An https check against a plain http server fails in the TLS handshake") {
  asio::io_context io;
  NetworkProber prober(io);
  // Its plain-text answer is not a TLS ServerHello.
  CannedHttpServer server(io, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", /*eager=*/true);
  CheckResult result =
      ProbeAndWait(io, prober, Http("https://127.0.0.1:" + std::to_string(server.port()) + "/"));
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.output, Catch::Contains("tls handshake"));
}
