#include "agent/registry/curl_transport.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <cstring>
#include <mutex>

namespace zlayer::registry {
namespace {

constexpr size_t kMaxBuffered = 4 << 20;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string HostOf(const std::string& url) {
  CURLU* u = curl_url();
  std::string host = url;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* h = nullptr;
    if (curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
      host = h;
      curl_free(h);
    }
    char* p = nullptr;
    if (curl_url_get(u, CURLUPART_PORT, &p, 0) == CURLUE_OK) {
      host += std::string(":") + p;
      curl_free(p);
    }
  }
  curl_url_cleanup(u);
  return host;
}

Status CurlError(CURLcode code, const std::string& url, const char* detail) {
  std::string why = detail && *detail ? detail : curl_easy_strerror(code);
  std::string host = HostOf(url);
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
      return UnavailableError(fmt::format("TLS with {}: {}", host, why));
    case CURLE_OPERATION_TIMEDOUT:
      return UnavailableError(fmt::format("{}: timed out: {}", host, why));
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return UnavailableError(fmt::format("connect to {}: {}", host, why));
    case CURLE_TOO_MANY_REDIRECTS:
      return UnavailableError(fmt::format("{}: too many redirects", host));
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return InvalidArgumentError(fmt::format("bad URL {}: {}", url, why));
    default:
      return UnavailableError(fmt::format("{}: {}", host, why));
  }
}

class CurlResponse : public HttpResponse {
 public:
  CurlResponse(const CurlOptions& options, const HttpRequest& request) : url_(request.url) {
    multi_ = curl_multi_init();
    easy_ = curl_easy_init();
    curl_easy_setopt(easy_, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(easy_, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(easy_, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(easy_, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
    curl_easy_setopt(easy_, CURLOPT_MAXREDIRS, 10L);
    // Custom Authorization headers go to the first host only (curl >= 7.58 default),
    // stated here because the object store a blob redirects to must not get the token.
    curl_easy_setopt(easy_, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(easy_, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy_, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(options.stall_timeout.count()));
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, error_);
    curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &CurlResponse::OnHeader);
    curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &CurlResponse::OnBody);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
    if (request.method == "HEAD") {
      curl_easy_setopt(easy_, CURLOPT_NOBODY, 1L);
    } else if (request.method == "POST") {
      curl_easy_setopt(easy_, CURLOPT_POST, 1L);
      curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
      curl_easy_setopt(easy_, CURLOPT_COPYPOSTFIELDS, request.body.c_str());
    }
    for (const auto& [name, value] : request.headers) {
      headers_out_ = curl_slist_append(headers_out_, (name + ": " + value).c_str());
    }
    // No "Expect: 100-continue" round trip for small token POSTs.
    headers_out_ = curl_slist_append(headers_out_, "Expect:");
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_out_);
    curl_multi_add_handle(multi_, easy_);
  }

  ~CurlResponse() override {
    curl_multi_remove_handle(multi_, easy_);
    curl_easy_cleanup(easy_);
    curl_multi_cleanup(multi_);
    curl_slist_free_all(headers_out_);
  }

  // Drives the transfer until the headers of the final response are in.
  Status WaitForHeaders() {
    while (!body_started_ && !done_) ZLAYER_RETURN_IF_ERROR(Step());
    return final_;
  }

  int status() const override {
    long code = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
    return static_cast<int>(code);
  }

  std::string Header(const std::string& name) const override {
    auto it = headers_.find(Lower(name));
    return it == headers_.end() ? "" : it->second;
  }

  Result<size_t> Read(char* buffer, size_t size) override {
    while (buffer_.size() == consumed_ && !done_) {
      Status s = Step();
      if (!s.ok()) return s;
    }
    if (buffer_.size() == consumed_) {
      if (!final_.ok()) return final_;
      return size_t{0};
    }
    size_t n = std::min(size, buffer_.size() - consumed_);
    std::memcpy(buffer, buffer_.data() + consumed_, n);
    consumed_ += n;
    if (consumed_ == buffer_.size()) {
      buffer_.clear();
      consumed_ = 0;
      if (paused_) {
        paused_ = false;
        curl_easy_pause(easy_, CURLPAUSE_CONT);
      }
    }
    return n;
  }

 private:
  Status Step() {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi_, &running);
    if (mc != CURLM_OK) return InternalError(std::string("curl: ") + curl_multi_strerror(mc));
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
      if (msg->msg == CURLMSG_DONE) {
        done_ = true;
        if (msg->data.result != CURLE_OK) final_ = CurlError(msg->data.result, url_, error_);
      }
    }
    if (done_ || paused_ || buffer_.size() > consumed_) return Status::Ok();
    if (running == 0) {
      done_ = true;
      return Status::Ok();
    }
    curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
    return Status::Ok();
  }

  static size_t OnHeader(char* data, size_t size, size_t count, void* self_ptr) {
    auto* self = static_cast<CurlResponse*>(self_ptr);
    std::string line(data, size * count);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {
      self->headers_.clear();  // a new response (after a redirect or a 100)
    } else if (auto colon = line.find(':'); colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      self->headers_[Lower(line.substr(0, colon))] = value;
    }
    return size * count;
  }

  static size_t OnBody(char* data, size_t size, size_t count, void* self_ptr) {
    auto* self = static_cast<CurlResponse*>(self_ptr);
    self->body_started_ = true;
    if (self->buffer_.size() - self->consumed_ >= kMaxBuffered) {
      self->paused_ = true;
      return CURL_WRITEFUNC_PAUSE;
    }
    self->buffer_.append(data, size * count);
    return size * count;
  }

  std::string url_;
  CURLM* multi_ = nullptr;
  CURL* easy_ = nullptr;
  curl_slist* headers_out_ = nullptr;
  char error_[CURL_ERROR_SIZE] = {};
  std::map<std::string, std::string> headers_;
  std::string buffer_;
  size_t consumed_ = 0;
  bool body_started_ = false;
  bool paused_ = false;
  bool done_ = false;
  Status final_;
};

class CurlTransport : public HttpTransport {
 public:
  explicit CurlTransport(CurlOptions options) : options_(std::move(options)) { GlobalInit(); }

  Result<std::unique_ptr<HttpResponse>> Send(const HttpRequest& request) override {
    auto response = std::make_unique<CurlResponse>(options_, request);
    ZLAYER_RETURN_IF_ERROR(response->WaitForHeaders());
    return std::unique_ptr<HttpResponse>(std::move(response));
  }

 private:
  CurlOptions options_;
};

}  // namespace

std::unique_ptr<HttpTransport> NewCurlTransport(const CurlOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

}  // namespace zlayer::registry
