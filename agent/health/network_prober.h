// tcp and http(s) health checks, asynchronous on the agent's event loop
// (Boost.Asio sockets, Boost.Beast HTTP client), each bounded by a deadline
// timer that closes the socket when the check's timeout passes.
//
//   tcp:   connect to ProbeTarget::host : check.port. Connected = healthy.
//   http:  GET check.url (host and port as written in the URL; containers use
//          the node's network), `Connection: close`. Healthy when the response
//          status equals check.expect_status.
//   https: the same over TLS (OpenSSL via Asio SSL) with SNI set. The server's
//          certificate is NOT verified: a health probe asks "does it answer",
//          and replicas commonly serve self-signed certificates.
//
// A command check given to this prober fails with an output saying so (use
// NewProber in prober_factory.h, which dispatches by type).
//
// Thread safety: none; call Probe on the loop's thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <string>
#include <string_view>

#include "agent/health/prober.h"
#include "common/status.h"

namespace zlayer::agent::health {

struct HttpUrl {
  bool https = false;
  std::string host;    // without brackets for IPv6 literals
  std::string port;    // "80" / "443" when the URL has none
  std::string target;  // path and query, "/" when empty
};

// Parses "http://host[:port][/path]" and "https://...". kInvalidArgument
// naming the URL for another scheme, an empty host, userinfo or a bad port.
Result<HttpUrl> ParseHttpUrl(std::string_view url);

// Bytes of an http response body kept in a check's output.
inline constexpr size_t kMaxHttpBodyInOutput = 1024;

class NetworkProber : public Prober {
 public:
  explicit NetworkProber(boost::asio::io_context& loop);

  void Probe(const ProbeTarget& target, const spec::HealthCheck& check,
             std::chrono::nanoseconds timeout, std::function<void(CheckResult)> done) override;

 private:
  boost::asio::io_context& loop_;
  boost::asio::ssl::context tls_;
};

}  // namespace zlayer::agent::health
