#include "agent/registry/client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "agent/oci/digest.h"
#include "agent/oci/manifest.h"

namespace zlayer::registry {

const char* const kManifestAccept =
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json";

namespace {

using oci::Descriptor;

constexpr int kMaxErrorBody = 64 * 1024;

Status DataLoss(std::string message) { return {StatusCode::kDataLoss, std::move(message)}; }

std::string HostWithoutPort(const std::string& host) {
  if (!host.empty() && host[0] == '[') return host.substr(1, host.find(']') - 1);
  auto colon = host.rfind(':');
  return colon == std::string::npos ? host : host.substr(0, colon);
}

bool IsLoopback(const std::string& host) {
  std::string h = HostWithoutPort(host);
  return h == "localhost" || h == "::1" || h.rfind("127.", 0) == 0;
}

std::string Escape(const std::string& text) {
  char* escaped = curl_easy_escape(nullptr, text.c_str(), static_cast<int>(text.size()));
  std::string out = escaped ? escaped : text;
  curl_free(escaped);
  return out;
}

std::string StripParams(const std::string& content_type) {
  std::string out = content_type.substr(0, content_type.find(';'));
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
  return out;
}

std::string RefText(const oci::Reference& ref) {
  std::string text = ref.repository;
  if (!ref.tag.empty()) text += ":" + ref.tag;
  if (!ref.digest.empty()) text += "@" + ref.digest;
  return text;
}

Status Verify(const std::string& data, const Descriptor& d, const std::string& registry) {
  if (static_cast<int64_t>(data.size()) != d.size) {
    return DataLoss(fmt::format("registry {}: {} {}: size mismatch: got {} bytes, expected {}",
                                registry, "blob", d.digest, data.size(), d.size));
  }
  std::string actual = oci::Sha256Digest(data);
  if (actual != d.digest) {
    return DataLoss(fmt::format("registry {}: blob {}: digest mismatch: content hashes to {}",
                                registry, d.digest, actual));
  }
  return Status::Ok();
}

// Reads a response body, skipping `skip` bytes first (a 200 answer to a Range request).
class ResponseBlobReader : public BlobReader {
 public:
  ResponseBlobReader(std::unique_ptr<HttpResponse> response, int64_t skip)
      : response_(std::move(response)), skip_(skip) {}
  Result<size_t> Read(char* buffer, size_t size) override {
    while (skip_ > 0) {
      Result<size_t> n = response_->Read(buffer, std::min<size_t>(size, skip_));
      if (!n.ok()) return n.status();
      if (*n == 0) return size_t{0};
      skip_ -= static_cast<int64_t>(*n);
    }
    return response_->Read(buffer, size);
  }

 private:
  std::unique_ptr<HttpResponse> response_;
  int64_t skip_;
};

}  // namespace

Status ResponseError(HttpResponse& response, const std::string& registry, const std::string& what) {
  int status = response.status();
  std::string detail;
  std::string code;
  auto body = ReadBody(response, kMaxErrorBody);
  if (body.ok() && !body->empty()) {
    auto j = nlohmann::json::parse(*body, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("errors") && j["errors"].is_array() &&
        !j["errors"].empty() && j["errors"][0].is_object()) {
      const auto& e = j["errors"][0];
      if (e.contains("code") && e["code"].is_string()) code = e["code"];
      std::string message =
          e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
      detail = code + (message.empty() ? "" : ": " + message);
    }
  }
  auto make = [&](StatusCode c, const std::string& meaning) {
    std::string text = fmt::format("registry {}: {}: {}", registry, what, meaning);
    if (!detail.empty()) text += " (" + detail + ")";
    return Status(c, text);
  };
  switch (status) {
    case 401:
      return make(StatusCode::kUnauthenticated, "unauthorised");
    case 403:
      return make(StatusCode::kUnauthenticated, "access denied");
    case 404:
      if (code == "NAME_UNKNOWN") return make(StatusCode::kNotFound, "unknown repository");
      if (code == "BLOB_UNKNOWN") return make(StatusCode::kNotFound, "unknown blob");
      if (code == "MANIFEST_UNKNOWN") return make(StatusCode::kNotFound, "unknown tag or manifest");
      return make(StatusCode::kNotFound, "not found (HTTP 404)");
    default:
      if (status >= 500 || status == 408 || status == 429) {
        return make(StatusCode::kUnavailable, fmt::format("HTTP {}", status));
      }
      return make(StatusCode::kInvalidArgument, fmt::format("unexpected HTTP {}", status));
  }
}

RegistryClient::RegistryClient(HttpTransport& transport, RegistryOptions options)
    : transport_(transport), options_(std::move(options)) {}

std::string RegistryClient::SchemeFor(const std::string& host) const {
  if (IsLoopback(host)) return "http";
  for (const std::string& insecure : options_.insecure_registries) {
    if (insecure == host) return "http";
  }
  return "https";
}

std::string RegistryClient::ApiHost(const oci::Reference& ref) const { return ref.RegistryHost(); }

Status RegistryClient::Authenticate(const oci::Reference& ref, const HttpResponse& unauthorized,
                                    const std::string& key) {
  std::vector<Challenge> challenges = ParseChallenges(unauthorized.Header("WWW-Authenticate"));
  std::optional<UserPassword> creds = options_.credentials().Lookup(ref.registry);
  std::string basic = creds ? "Basic " + Base64Encode(creds->username + ":" + creds->password) : "";
  for (const Challenge& c : challenges) {
    if (c.scheme == "bearer") {
      auto realm = c.params.find("realm");
      if (realm == c.params.end() || realm->second.empty()) continue;
      std::vector<std::string> scopes = {"repository:" + ref.repository + ":pull"};
      if (auto s = c.params.find("scope"); s != c.params.end()) {
        size_t start = 0;
        while (start < s->second.size()) {
          size_t space = s->second.find(' ', start);
          if (space == std::string::npos) space = s->second.size();
          if (space > start) scopes.push_back(s->second.substr(start, space - start));
          start = space + 1;
        }
      }
      std::sort(scopes.begin(), scopes.end());
      scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
      std::string url = realm->second;
      char sep = url.find('?') == std::string::npos ? '?' : '&';
      if (auto service = c.params.find("service"); service != c.params.end()) {
        url += sep + std::string("service=") + Escape(service->second);
        sep = '&';
      }
      for (const std::string& scope : scopes) {
        url += sep + std::string("scope=") + Escape(scope);
        sep = '&';
      }
      HttpRequest request;
      request.url = url;
      if (!basic.empty()) request.headers.emplace_back("Authorization", basic);
      auto response = transport_.Send(request);
      if (!response.ok()) {
        return response.status().Wrap(
            fmt::format("registry {}: token from {}", ref.registry, realm->second));
      }
      if ((*response)->status() != 200) {
        Status s = ResponseError(**response, ref.registry, "token from " + realm->second);
        if ((*response)->status() == 401 || (*response)->status() == 403) {
          return Status(StatusCode::kUnauthenticated,
                        s.message() + (creds ? " (credentials from config.json refused)" : ""));
        }
        return s;
      }
      auto body = ReadBody(**response, kMaxErrorBody);
      if (!body.ok()) return body.status().Wrap("registry " + ref.registry + ": token");
      auto token = ParseTokenResponse(*body);
      if (!token.ok()) return token.status().Wrap("registry " + ref.registry);
      std::lock_guard lock(mu_);
      // Refresh a little early so a token does not expire in flight.
      auto lifetime = std::max(token->expires_in - std::chrono::seconds(5), token->expires_in / 2);
      auth_[key] = CachedAuth{"Bearer " + token->token, options_.clock() + lifetime};
      return Status::Ok();
    }
    if (c.scheme == "basic") {
      if (basic.empty()) {
        return Status(StatusCode::kUnauthenticated,
                      fmt::format("registry {}: unauthorised: basic auth needed and no "
                                  "credentials for {} in config.json",
                                  ref.registry, ref.registry));
      }
      std::lock_guard lock(mu_);
      auth_[key] = CachedAuth{basic, std::nullopt};
      return Status::Ok();
    }
  }
  return Status(StatusCode::kUnauthenticated,
                fmt::format("registry {}: unauthorised, and no usable challenge in "
                            "WWW-Authenticate \"{}\"",
                            ref.registry, unauthorized.Header("WWW-Authenticate")));
}

Result<std::unique_ptr<HttpResponse>> RegistryClient::Request(
    const oci::Reference& ref, const std::string& method, const std::string& path,
    std::vector<std::pair<std::string, std::string>> headers) {
  std::string host = ApiHost(ref);
  std::string key = host + " " + ref.repository;
  HttpRequest request;
  request.method = method;
  request.url =
      fmt::format("{}://{}/v2/{}/{}", SchemeFor(ref.registry), host, ref.repository, path);
  request.headers = std::move(headers);
  for (int attempt = 0; attempt < 2; ++attempt) {
    HttpRequest sent = request;
    {
      std::lock_guard lock(mu_);
      auto it = auth_.find(key);
      if (it != auth_.end() && it->second.expires && options_.clock() >= *it->second.expires) {
        auth_.erase(it);  // expired: the next 401 fetches a new token
        it = auth_.end();
      }
      if (it != auth_.end()) sent.headers.emplace_back("Authorization", it->second.header);
    }
    auto response = transport_.Send(sent);
    if (!response.ok()) return response.status().Wrap("registry " + ref.registry);
    if ((*response)->status() != 401 || attempt == 1) return response;
    ZLAYER_RETURN_IF_ERROR(Authenticate(ref, **response, key));
  }
  return InternalError("unreachable");
}

Result<Descriptor> RegistryClient::Resolve(const oci::Reference& ref) {
  std::string what = "resolve " + RefText(ref);
  std::string target = ref.digest.empty() ? ref.tag : ref.digest;
  for (const char* method : {"HEAD", "GET"}) {
    auto response = Request(ref, method, "manifests/" + target, {{"Accept", kManifestAccept}});
    if (!response.ok()) return response.status().Wrap(what);
    HttpResponse& r = **response;
    if (r.status() == 405 && std::string(method) == "HEAD") continue;
    if (r.status() != 200) {
      // A HEAD answer has no body to tell an unknown tag from an unknown repository.
      if (std::string(method) == "HEAD" && r.status() == 404) continue;
      Status error = ResponseError(r, ref.registry, what);
      if (r.status() == 404 && error.message().find("MANIFEST_UNKNOWN") != std::string::npos) {
        // docker-registry says MANIFEST_UNKNOWN for a repository it does not know
        // either; its tag list tells the two apart.
        auto tags = Request(ref, "GET", "tags/list", {});
        if (tags.ok() && (*tags)->status() == 404) {
          Status unknown = ResponseError(**tags, ref.registry, what);
          if (unknown.message().find("unknown repository") != std::string::npos) return unknown;
        }
      }
      return error;
    }
    Descriptor d;
    d.media_type = StripParams(r.Header("Content-Type"));
    d.digest = ref.digest.empty() ? r.Header("Docker-Content-Digest") : ref.digest;
    std::string length = r.Header("Content-Length");
    if (!length.empty()) d.size = std::atoll(length.c_str());
    if (std::string(method) == "GET") {
      auto body = ReadBody(r, oci::kMaxManifestSize);
      if (!body.ok()) return body.status().Wrap(fmt::format("registry {}: {}", ref.registry, what));
      d.size = static_cast<int64_t>(body->size());
      if (d.digest.empty()) d.digest = oci::Sha256Digest(*body);
    } else if (d.digest.empty() || length.empty()) {
      continue;  // not enough from HEAD: ask again with GET
    }
    if (d.media_type == "text/plain" ||
        d.media_type == "application/vnd.docker.distribution.manifest.v1+prettyjws" ||
        d.media_type == "application/vnd.docker.distribution.manifest.v1+json") {
      return InvalidArgumentError(fmt::format(
          "registry {}: {}: Docker schema 1 manifests are not supported", ref.registry, what));
    }
    if (!oci::IsIndexMediaType(d.media_type) && !oci::IsManifestMediaType(d.media_type)) {
      return InvalidArgumentError(fmt::format("registry {}: {}: unsupported media type \"{}\"",
                                              ref.registry, what, d.media_type));
    }
    if (!oci::IsSha256Digest(d.digest)) {
      return InvalidArgumentError(
          fmt::format("registry {}: {}: bad digest \"{}\"", ref.registry, what, d.digest));
    }
    if (d.size <= 0 || d.size > oci::kMaxManifestSize) {
      return InvalidArgumentError(fmt::format("registry {}: {}: manifest size {} out of range",
                                              ref.registry, what, d.size));
    }
    return d;
  }
  return InternalError("unreachable");
}

Result<std::string> RegistryClient::FetchManifest(const oci::Reference& ref, const Descriptor& d) {
  std::string what = "fetch manifest " + d.digest + " of " + ref.repository;
  if (d.size > oci::kMaxManifestSize) {
    return InvalidArgumentError(fmt::format("registry {}: {}: {} bytes is over the {} byte limit",
                                            ref.registry, what, d.size, oci::kMaxManifestSize));
  }
  auto response = Request(
      ref, "GET", "manifests/" + d.digest,
      {{"Accept", d.media_type.empty() ? kManifestAccept : d.media_type + ", " + kManifestAccept}});
  if (!response.ok()) return response.status().Wrap(what);
  if ((*response)->status() != 200) return ResponseError(**response, ref.registry, what);
  auto body = ReadBody(**response, oci::kMaxManifestSize);
  if (!body.ok()) return body.status().Wrap(fmt::format("registry {}: {}", ref.registry, what));
  ZLAYER_RETURN_IF_ERROR(Verify(*body, d, ref.registry));
  return body;
}

Result<std::string> RegistryClient::FetchBlob(const oci::Reference& ref, const Descriptor& d) {
  std::string what = "fetch blob " + d.digest + " of " + ref.repository;
  if (d.size > oci::kMaxManifestSize) {
    return InvalidArgumentError(fmt::format("registry {}: {}: {} bytes is over the {} byte limit",
                                            ref.registry, what, d.size, oci::kMaxManifestSize));
  }
  auto reader = OpenBlob(ref, d, 0);
  if (!reader.ok()) return reader.status();
  std::string body;
  char buffer[64 * 1024];
  while (true) {
    auto n = (*reader)->Read(buffer, sizeof buffer);
    if (!n.ok()) return n.status().Wrap(fmt::format("registry {}: {}", ref.registry, what));
    if (*n == 0) break;
    body.append(buffer, *n);
    if (static_cast<int64_t>(body.size()) > d.size) break;
  }
  ZLAYER_RETURN_IF_ERROR(Verify(body, d, ref.registry));
  return body;
}

Result<std::unique_ptr<BlobReader>> RegistryClient::OpenBlob(const oci::Reference& ref,
                                                             const Descriptor& d, int64_t offset) {
  std::string what = "fetch blob " + d.digest + " of " + ref.repository;
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Accept", (d.media_type.empty() ? "" : d.media_type + ", ") + "*/*"}};
  if (offset > 0) headers.emplace_back("Range", fmt::format("bytes={}-", offset));
  auto response = Request(ref, "GET", "blobs/" + d.digest, headers);
  if (!response.ok()) return response.status().Wrap(what);
  HttpResponse& r = **response;
  int64_t skip = 0;
  if (r.status() == 206) {
    std::string range = r.Header("Content-Range");
    if (range.rfind(fmt::format("bytes {}-", offset), 0) != 0) {
      return InvalidArgumentError(
          fmt::format("registry {}: {}: asked for bytes from {}, got Content-Range \"{}\"",
                      ref.registry, what, offset, range));
    }
  } else if (r.status() == 200) {
    skip = offset;
  } else if (r.status() == 416 && offset == d.size) {
    skip = 0;  // nothing left to read; the caller commits what it has
  } else {
    return ResponseError(r, ref.registry, what);
  }
  return std::unique_ptr<BlobReader>(
      std::make_unique<ResponseBlobReader>(std::move(*response), skip));
}

}  // namespace zlayer::registry
