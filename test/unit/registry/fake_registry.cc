#include "fake_registry.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/oci/digest.h"
#include "agent/oci/manifest.h"
#include "agent/registry/auth.h"

namespace zlayer::registry::testing {
namespace {

class FakeResponse : public HttpResponse {
 public:
  FakeResponse(int status, std::map<std::string, std::string> headers, std::string body)
      : status_(status), body_(std::move(body)) {
    for (auto& [k, v] : headers) headers_[Lower(k)] = v;
  }
  int status() const override { return status_; }
  std::string Header(const std::string& name) const override {
    auto it = headers_.find(Lower(name));
    return it == headers_.end() ? "" : it->second;
  }
  Result<size_t> Read(char* buffer, size_t size) override {
    size_t n = std::min(size, body_.size() - pos_);
    std::copy_n(body_.data() + pos_, n, buffer);
    pos_ += n;
    return n;
  }

 private:
  int status_;
  std::map<std::string, std::string> headers_;
  std::string body_;
  size_t pos_ = 0;
};

std::unique_ptr<HttpResponse> Reply(int status, std::map<std::string, std::string> headers = {},
                                    std::string body = "") {
  return std::make_unique<FakeResponse>(status, std::move(headers), std::move(body));
}

std::unique_ptr<HttpResponse> ErrorReply(int status, const std::string& code,
                                         const std::string& message,
                                         std::map<std::string, std::string> headers = {}) {
  headers["Content-Type"] = "application/json";
  return Reply(status, headers,
               nlohmann::json{{"errors", {{{"code", code}, {"message", message}}}}}.dump());
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string QueryParam(const std::string& query, const std::string& name) {
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string::npos) amp = query.size();
    std::string part = query.substr(start, amp - start);
    if (part.rfind(name + "=", 0) == 0) return part.substr(name.size() + 1);
    start = amp + 1;
  }
  return "";
}

}  // namespace

std::string FakeRegistry::AddBlob(const std::string& repo, const std::string& data) {
  std::string digest = oci::Sha256Digest(data);
  std::lock_guard lock(mu_);
  repos_[repo].blobs[digest] = data;
  return digest;
}

std::string FakeRegistry::AddManifest(const std::string& repo, const std::string& tag,
                                      const std::string& media_type, const std::string& json) {
  std::string digest = oci::Sha256Digest(json);
  std::lock_guard lock(mu_);
  repos_[repo].manifests[digest] = {media_type, json};
  repos_[repo].blobs[digest] = json;
  if (!tag.empty()) repos_[repo].tags[tag] = digest;
  return digest;
}

void FakeRegistry::LoadLayout(const std::string& repo, const std::string& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/blobs/sha256")) {
    std::string data = ReadAll(entry.path());
    auto j = nlohmann::json::parse(data, nullptr, false);
    if (!j.is_discarded() && j.is_object() && (j.contains("manifests") || j.contains("layers"))) {
      std::string type = j.contains("mediaType")   ? j["mediaType"].get<std::string>()
                         : j.contains("manifests") ? oci::kMediaTypeOciIndex
                                                   : oci::kMediaTypeOciManifest;
      AddManifest(repo, "", type, data);
    } else {
      AddBlob(repo, data);
    }
  }
  auto index = nlohmann::json::parse(ReadAll(dir + "/index.json"));
  std::lock_guard lock(mu_);
  for (const auto& m : index["manifests"]) {
    std::string tag = m["annotations"]["org.opencontainers.image.ref.name"];
    repos_[repo].tags[tag] = m["digest"];
  }
}

void FakeRegistry::RequireBasic(std::string user, std::string password) {
  std::lock_guard lock(mu_);
  basic_ = true;
  basic_user_ = std::move(user);
  basic_password_ = std::move(password);
}

void FakeRegistry::RequireBearer(std::string user, std::string password, int expires_in) {
  std::lock_guard lock(mu_);
  bearer_ = true;
  token_user_ = std::move(user);
  token_password_ = std::move(password);
  expires_in_ = expires_in;
}

void FakeRegistry::ExpireTokens() {
  std::lock_guard lock(mu_);
  valid_tokens_.clear();
}

void FakeRegistry::CorruptBlob(const std::string& digest) {
  std::lock_guard lock(mu_);
  corrupt_.insert(digest);
}

void FakeRegistry::BreakBlobOnce(const std::string& digest, size_t bytes) {
  std::lock_guard lock(mu_);
  break_once_[digest] = bytes;
}

std::string FakeRegistry::Header(const HttpRequest& request, const std::string& name) const {
  for (const auto& [k, v] : request.headers) {
    if (Lower(k) == Lower(name)) return v;
  }
  return "";
}

std::vector<HttpRequest> FakeRegistry::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

int FakeRegistry::Count(const std::string& method, const std::string& part) const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& r : requests_) n += r.method == method && r.url.find(part) != std::string::npos;
  return n;
}

Result<std::unique_ptr<HttpResponse>> FakeRegistry::Send(const HttpRequest& request) {
  std::lock_guard lock(mu_);
  requests_.push_back(request);
  if (down_) return UnavailableError("connect to " + request.url + ": connection refused");
  const std::string& url = request.url;
  std::string authorization = Header(request, "Authorization");

  if (url.rfind("https://auth.test/token", 0) == 0) {
    if (!token_user_.empty() &&
        authorization != "Basic " + Base64Encode(token_user_ + ":" + token_password_)) {
      return ErrorReply(401, "UNAUTHORIZED", "bad credentials");
    }
    std::string query = url.substr(url.find('?') + 1);
    if (QueryParam(query, "service") != "fake-registry") {
      return ErrorReply(400, "DENIED", "wrong service");
    }
    std::string token = fmt::format("tok-{}", ++tokens_issued_);
    valid_tokens_.insert(token);
    return Reply(200, {{"Content-Type", "application/json"}},
                 nlohmann::json{{"token", token}, {"expires_in", expires_in_}}.dump());
  }

  std::string prefix_http = "http://" + host_ + "/v2/";
  std::string prefix_https = "https://" + host_ + "/v2/";
  std::string path;
  if (url.rfind(prefix_http, 0) == 0) {
    path = url.substr(prefix_http.size());
  } else if (url.rfind(prefix_https, 0) == 0) {
    path = url.substr(prefix_https.size());
  } else {
    return UnavailableError("connect to " + url + ": no such host");
  }

  if (basic_ && authorization != "Basic " + Base64Encode(basic_user_ + ":" + basic_password_)) {
    return ErrorReply(401, "UNAUTHORIZED", "authentication required",
                      {{"WWW-Authenticate", "Basic realm=\"fake\""}});
  }
  if (bearer_ &&
      !(authorization.rfind("Bearer ", 0) == 0 && valid_tokens_.count(authorization.substr(7)))) {
    size_t m = path.rfind("/manifests/");
    size_t b = path.rfind("/blobs/");
    std::string repo = path.substr(0, m != std::string::npos ? m : b);
    return ErrorReply(401, "UNAUTHORIZED", "authentication required",
                      {{"WWW-Authenticate",
                        "Bearer realm=\"https://auth.test/token\",service=\"fake-registry\","
                        "scope=\"repository:" +
                            repo + ":pull\""}});
  }

  if (path.size() > 10 && path.substr(path.size() - 10) == "/tags/list") {
    auto r = repos_.find(path.substr(0, path.size() - 10));
    if (r == repos_.end()) return ErrorReply(404, "NAME_UNKNOWN", "repository name not known");
    nlohmann::json tags = nlohmann::json::array();
    for (const auto& [tag, digest] : r->second.tags) tags.push_back(tag);
    return Reply(200, {{"Content-Type", "application/json"}},
                 nlohmann::json{{"name", r->first}, {"tags", tags}}.dump());
  }
  bool manifests = path.find("/manifests/") != std::string::npos;
  size_t cut = manifests ? path.rfind("/manifests/") : path.rfind("/blobs/");
  if (cut == std::string::npos) return ErrorReply(404, "UNSUPPORTED", "no such endpoint");
  std::string repo = path.substr(0, cut);
  std::string reference = path.substr(cut + (manifests ? 11 : 7));
  auto r = repos_.find(repo);
  if (r == repos_.end()) {
    if (request.method == "HEAD") return Reply(404);
    // docker-registry answers an unknown repository's manifests like an unknown tag.
    if (manifests) return ErrorReply(404, "MANIFEST_UNKNOWN", "manifest unknown");
    return ErrorReply(404, "NAME_UNKNOWN", "repository name not known to registry");
  }
  if (manifests) {
    if (request.method == "HEAD" && refuse_head_) return Reply(405);
    std::string digest = reference;
    if (auto t = r->second.tags.find(reference); t != r->second.tags.end()) digest = t->second;
    auto m = r->second.manifests.find(digest);
    if (m == r->second.manifests.end()) {
      if (request.method == "HEAD") return Reply(404);
      return ErrorReply(404, "MANIFEST_UNKNOWN", "manifest unknown");
    }
    std::string body = m->second.json;
    if (corrupt_.count(digest)) body[body.size() / 2] ^= 1;
    std::map<std::string, std::string> headers = {{"Content-Type", m->second.media_type},
                                                  {"Docker-Content-Digest", digest},
                                                  {"Content-Length", std::to_string(body.size())}};
    return Reply(200, headers, request.method == "HEAD" ? "" : body);
  }
  auto blob = r->second.blobs.find(reference);
  if (blob == r->second.blobs.end()) return ErrorReply(404, "BLOB_UNKNOWN", "blob unknown");
  std::string body = blob->second;
  if (corrupt_.count(reference)) body[body.size() / 2] ^= 1;
  if (auto b = break_once_.find(reference); b != break_once_.end()) {
    size_t keep = b->second;
    break_once_.erase(b);
    return Reply(200, {{"Content-Length", std::to_string(body.size())}}, body.substr(0, keep));
  }
  std::string range = Header(request, "Range");
  if (!range.empty() && !ignore_range_) {
    size_t from = std::stoull(range.substr(6));
    if (from >= body.size()) return Reply(416);
    std::string rest = body.substr(from);
    return Reply(
        206,
        {{"Content-Range", fmt::format("bytes {}-{}/{}", from, body.size() - 1, body.size())},
         {"Content-Length", std::to_string(rest.size())}},
        rest);
  }
  return Reply(200, {{"Content-Length", std::to_string(body.size())}}, body);
}

}  // namespace zlayer::registry::testing
