#include "agent/health/network_prober.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <memory>

namespace zlayer::agent::health {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return InvalidArgumentError(fmt::format("health check url \"{}\": {}", url, why));
  };
  HttpUrl result;
  std::string_view rest = url;
  if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
  } else if (rest.substr(0, 8) == "https://") {
    result.https = true;
    rest.remove_prefix(8);
  } else {
    return bad("expected http:// or https://");
  }
  const size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  if (const size_t hash = path.find('#'); hash != std::string_view::npos)
    path = path.substr(0, hash);
  if (authority.find('@') != std::string_view::npos) return bad("user info is not supported");
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    result.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after IPv6 address");
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    result.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (result.host.empty()) return bad("no host");
  if (port.empty()) {
    result.port = result.https ? "443" : "80";
  } else {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad(fmt::format("bad port \"{}\"", port));
    }
    result.port = std::string(port);
  }
  result.target = path.empty() ? "/" : std::string(path);
  if (result.target.front() == '?') result.target.insert(0, "/");
  return result;
}

namespace {

std::string Seconds(std::chrono::nanoseconds d) {
  return fmt::format("{:.3g}s", std::chrono::duration<double>(d).count());
}

// What every check shares: a deadline and a done callback called once.
class CheckBase {
 protected:
  CheckBase(asio::io_context& loop, std::chrono::nanoseconds timeout,
            std::function<void(CheckResult)> done)
      : resolver_(loop), deadline_(loop), timeout_(timeout), done_(std::move(done)) {}

  virtual ~CheckBase() = default;

  // Called from asynchronous handlers only, never inline from Probe.
  void Finish(bool ok, std::string output, bool closeable = true) {
    if (finished_) return;
    finished_ = true;
    deadline_.cancel();
    resolver_.cancel();
    if (closeable) CloseSocket();
    CheckResult result;
    result.ok = ok;
    result.output = std::move(output);
    auto done = std::move(done_);
    done(std::move(result));
  }
  virtual void CloseSocket() = 0;

  tcp::resolver resolver_;
  asio::steady_timer deadline_;
  std::chrono::nanoseconds timeout_;
  std::function<void(CheckResult)> done_;
  bool finished_ = false;
};

class TcpCheck : public CheckBase, public std::enable_shared_from_this<TcpCheck> {
 public:
  TcpCheck(asio::io_context& loop, std::string host, uint16_t port,
           std::chrono::nanoseconds timeout, std::function<void(CheckResult)> done)
      : CheckBase(loop, timeout, std::move(done)),
        socket_(loop),
        host_(std::move(host)),
        port_(port) {}

  void Start() {
    auto self = shared_from_this();
    deadline_.expires_after(timeout_);
    deadline_.async_wait([self](const boost::system::error_code& error) {
      if (error) return;
      self->Finish(false, fmt::format("connect {}:{}: timed out after {}", self->host_, self->port_,
                                      Seconds(self->timeout_)));
    });
    resolver_.async_resolve(
        host_, std::to_string(port_),
        [self](const boost::system::error_code& error, tcp::resolver::results_type results) {
          if (self->finished_) return;
          if (error) {
            return self->Finish(false, fmt::format("resolve {}: {}", self->host_, error.message()));
          }
          asio::async_connect(
              self->socket_, results,
              [self](const boost::system::error_code& error, const tcp::endpoint&) {
                if (self->finished_) return;
                if (error) {
                  return self->Finish(false, fmt::format("connect {}:{}: {}", self->host_,
                                                         self->port_, error.message()));
                }
                self->Finish(true, fmt::format("connected to {}:{}", self->host_, self->port_));
              });
        });
  }

 private:
  void CloseSocket() override {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  tcp::socket socket_;
  std::string host_;
  uint16_t port_;
};

// One GET over `Stream` (beast::tcp_stream or beast::ssl_stream of one).
template <typename Stream>
class HttpCheck : public CheckBase, public std::enable_shared_from_this<HttpCheck<Stream>> {
 public:
  template <typename... StreamArgs>
  HttpCheck(asio::io_context& loop, HttpUrl url, std::string url_text, int expect_status,
            std::chrono::nanoseconds timeout, std::function<void(CheckResult)> done,
            StreamArgs&&... stream_args)
      : CheckBase(loop, timeout, std::move(done)),
        stream_(std::forward<StreamArgs>(stream_args)...),
        url_(std::move(url)),
        url_text_(std::move(url_text)),
        expect_status_(expect_status) {}

  void Start() {
    auto self = this->shared_from_this();
    deadline_.expires_after(timeout_);
    deadline_.async_wait([self](const boost::system::error_code& error) {
      if (error) return;
      self->Finish(false, fmt::format("GET {}: timed out after {}", self->url_text_,
                                      Seconds(self->timeout_)));
    });
    resolver_.async_resolve(
        url_.host, url_.port,
        [self](const boost::system::error_code& error, tcp::resolver::results_type results) {
          if (self->finished_) return;
          if (error) return self->Fail("resolve", error);
          self->Connect(results);
        });
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  void Fail(std::string_view step, const boost::system::error_code& error) {
    Finish(false, fmt::format("GET {}: {}: {}", url_text_, step, error.message()));
  }

  void Connect(const tcp::resolver::results_type& results) {
    auto self = this->shared_from_this();
    beast::get_lowest_layer(stream_).async_connect(
        results, [self](const boost::system::error_code& error, const tcp::endpoint&) {
          if (self->finished_) return;
          if (error) return self->Fail("connect", error);
          if constexpr (kTls) {
            self->Handshake();
          } else {
            self->Send();
          }
        });
  }

  void Handshake() {
    if constexpr (kTls) {
      auto self = this->shared_from_this();
      // SNI; the certificate itself is not verified (see the header).
      SSL_set_tlsext_host_name(stream_.native_handle(), url_.host.c_str());
      stream_.async_handshake(asio::ssl::stream_base::client,
                              [self](const boost::system::error_code& error) {
                                if (self->finished_) return;
                                if (error) return self->Fail("tls handshake", error);
                                self->Send();
                              });
    }
  }

  void Send() {
    auto self = this->shared_from_this();
    request_.method(http::verb::get);
    request_.target(url_.target);
    request_.version(11);
    const bool default_port = url_.port == (url_.https ? "443" : "80");
    const std::string host =
        url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host;
    request_.set(http::field::host, default_port ? host : host + ":" + url_.port);
    request_.set(http::field::user_agent, "zlayer-health");
    request_.set(http::field::connection, "close");
    http::async_write(stream_, request_, [self](const boost::system::error_code& error, size_t) {
      if (self->finished_) return;
      if (error) return self->Fail("send", error);
      self->Receive();
    });
  }

  void Receive() {
    auto self = this->shared_from_this();
    parser_.body_limit(64 * 1024);
    http::async_read(
        stream_, buffer_, parser_, [self](const boost::system::error_code& error, size_t) {
          if (self->finished_) return;
          // A body over the limit still has a usable status.
          if (error && !(error == http::error::body_limit && self->parser_.is_header_done())) {
            return self->Fail("receive", error);
          }
          self->Judge();
        });
  }

  void Judge() {
    const auto& response = parser_.get();
    const int status = static_cast<int>(response.result_int());
    std::string body = response.body().substr(0, kMaxHttpBodyInOutput);
    const auto reason = response.reason();
    std::string output =
        fmt::format("GET {}: {} {}", url_text_, status, std::string(reason.data(), reason.size()));
    if (status != expect_status_) output += fmt::format(" (expected {})", expect_status_);
    if (!body.empty()) output += "\n" + body;
    Finish(status == expect_status_, std::move(output));
  }

  void CloseSocket() override {
    boost::system::error_code ignored;
    beast::get_lowest_layer(stream_).socket().close(ignored);
  }

  Stream stream_;
  HttpUrl url_;
  std::string url_text_;
  int expect_status_;
  http::request<http::empty_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
};

}  // namespace

NetworkProber::NetworkProber(asio::io_context& loop)
    : loop_(loop), tls_(asio::ssl::context::tls_client) {
  tls_.set_verify_mode(asio::ssl::verify_none);
}

void NetworkProber::Probe(const ProbeTarget& target, const spec::HealthCheck& check,
                          std::chrono::nanoseconds timeout, std::function<void(CheckResult)> done) {
  auto fail_later = [&](std::string output) {
    asio::post(loop_, [done = std::move(done), output = std::move(output)]() mutable {
      CheckResult result;
      result.output = std::move(output);
      done(std::move(result));
    });
  };
  switch (check.type) {
    case spec::HealthCheckType::kTcp: {
      std::make_shared<TcpCheck>(loop_, target.host, check.port, timeout, std::move(done))->Start();
      return;
    }
    case spec::HealthCheckType::kHttp: {
      auto url = ParseHttpUrl(check.url);
      if (!url.ok()) return fail_later(url.status().message());
      if (url->host == "localhost" || url->host == "127.0.0.1") url->host = target.host;
      if (url->https) {
        std::make_shared<HttpCheck<beast::ssl_stream<beast::tcp_stream>>>(
            loop_, *url, check.url, check.expect_status, timeout, std::move(done), loop_, tls_)
            ->Start();
      } else {
        std::make_shared<HttpCheck<beast::tcp_stream>>(loop_, *url, check.url, check.expect_status,
                                                       timeout, std::move(done), loop_)
            ->Start();
      }
      return;
    }
    case spec::HealthCheckType::kCommand:
      return fail_later("command checks need a command prober (NewProber)");
  }
}

}  // namespace zlayer::agent::health
