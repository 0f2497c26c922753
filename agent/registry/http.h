// The registry client's view of HTTP: one request in, one streamed response out.
//
// An interface so the registry logic (auth, resolve, ranges, error mapping) is tested
// against an in-memory fake; the real transport is libcurl (curl_transport.h).
//
// Contract of Send:
//   - it returns once the final response's status line and headers are in (after
//     following redirects when `follow_redirects`); the body is then read with
//     HttpResponse::Read, which blocks until bytes arrive;
//   - a response with any status (404, 401, ...) is a success of Send; errors are for
//     what kept a response from arriving: kUnavailable "connect to HOST: ..." (refused,
//     DNS, timeout), kUnavailable "TLS ...: ..." (handshake or certificate failure),
//     kCancelled when the request was cancelled;
//   - `Authorization` is never sent to a host a redirect leads to (object storage must
//     not see the registry's token).
//
// Thread safety: a transport may be used from several threads at once; one response
// belongs to one thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace zlayer::registry {

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD or POST
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // POST only
  bool follow_redirects = true;
};

class HttpResponse {
 public:
  virtual ~HttpResponse() = default;
  // The final response's status code (200, 206, 401, 404, ...).
  virtual int status() const = 0;
  // The value of header `name` (case-insensitive) or "" when absent.
  virtual std::string Header(const std::string& name) const = 0;
  // Reads up to `size` body bytes; 0 at the end. kUnavailable when the connection
  // breaks or stalls past the transport's timeout.
  virtual Result<size_t> Read(char* buffer, size_t size) = 0;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual Result<std::unique_ptr<HttpResponse>> Send(const HttpRequest& request) = 0;
};

// Reads the rest of `response`'s body; kResourceExhausted when it exceeds `max_size`.
Result<std::string> ReadBody(HttpResponse& response, int64_t max_size);

// Lower-cases ASCII.
std::string Lower(std::string text);

}  // namespace zlayer::registry
