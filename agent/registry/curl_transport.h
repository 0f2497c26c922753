// HttpTransport over libcurl: HTTPS with the system's CA certificates, HTTP/2 where the
// server offers it (HTTP/1.1 otherwise), redirects (up to 10), proxies from the usual
// environment variables (https_proxy, http_proxy, no_proxy: libcurl reads them itself).
//
// Each Send runs one transfer on a curl multi handle driven by the calling thread: the
// body streams through a bounded buffer (the transfer pauses while it is full), so a
// large layer never sits in memory.
#pragma once

#include <chrono>
#include <memory>

#include "agent/registry/http.h"

namespace zlayer::registry {

struct CurlOptions {
  // How long establishing a connection (TCP + TLS) may take.
  std::chrono::seconds connect_timeout{30};
  // A transfer that moves no byte for this long fails with kUnavailable.
  std::chrono::seconds stall_timeout{60};
  std::string user_agent = "zlayer";
};

// Calls curl_global_init once (thread-safe); returns the transport.
std::unique_ptr<HttpTransport> NewCurlTransport(const CurlOptions& options);

}  // namespace zlayer::registry
