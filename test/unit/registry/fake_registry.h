// FakeRegistry: an OCI registry (distribution API v2) in memory behind the
// HttpTransport interface, for unit tests of the registry client and the puller.
//
// It serves GET/HEAD /v2/<repo>/manifests/<tag|digest> (Content-Type, Docker-Content-Digest,
// Content-Length; 404 with NAME_UNKNOWN / MANIFEST_UNKNOWN bodies as docker-registry
// does) and GET /v2/<repo>/blobs/<digest> with Range support (206 + Content-Range),
// optionally behind Basic auth or Bearer tokens issued by its own token endpoint
// (https://auth.test/token). Every request is recorded.
//
// Thread safety: Send may be called from several threads; one mutex guards the state.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/registry/http.h"

namespace zlayer::registry::testing {

class FakeRegistry : public HttpTransport {
 public:
  // `host` is the registry host requests are addressed to, e.g. "reg.test:5000".
  explicit FakeRegistry(std::string host) : host_(std::move(host)) {}

  // Adds a blob to `repo`; returns its digest.
  std::string AddBlob(const std::string& repo, const std::string& data);
  // Adds a manifest or index; tags it when `tag` is not empty; returns its digest.
  std::string AddManifest(const std::string& repo, const std::string& tag,
                          const std::string& media_type, const std::string& json);
  // Serves an OCI image layout: every blob under blobs/sha256 (JSON documents with
  // "manifests" or "layers" as manifests), each index.json entry tagged with its
  // org.opencontainers.image.ref.name.
  void LoadLayout(const std::string& repo, const std::string& layout_dir);

  // Auth: Basic with these credentials; or Bearer tokens from https://auth.test/token
  // (service "fake-registry"), issued to anyone (or only to these Basic credentials
  // when `user` is set), each valid for `expires_in` seconds of requests counted by
  // ExpireTokens().
  void RequireBasic(std::string user, std::string password);
  void RequireBearer(std::string user = "", std::string password = "", int expires_in = 60);
  // Makes every token issued so far invalid (as if it expired).
  void ExpireTokens();

  // Serves blob `digest` with one byte changed.
  void CorruptBlob(const std::string& digest);
  // The next response for blob `digest` ends after `bytes` bytes (a broken connection).
  void BreakBlobOnce(const std::string& digest, size_t bytes);
  // While down, every request fails as an unreachable host would.
  void SetDown(bool down) { down_ = down; }
  // Answers Range requests with the whole blob (200), as some registries do.
  void IgnoreRange(bool ignore) { ignore_range_ = ignore; }
  // HEAD on manifests answers 405 (some registries), forcing a GET.
  void RefuseHead(bool refuse) { refuse_head_ = refuse; }

  Result<std::unique_ptr<HttpResponse>> Send(const HttpRequest& request) override;

  std::vector<HttpRequest> Requests() const;
  // Requests whose method is `method` and whose URL contains `part`.
  int Count(const std::string& method, const std::string& part) const;

 private:
  struct Manifest {
    std::string media_type;
    std::string json;
  };
  struct Repo {
    std::map<std::string, std::string> blobs;   // digest → bytes
    std::map<std::string, Manifest> manifests;  // digest → document
    std::map<std::string, std::string> tags;    // tag → digest
  };
  std::string Header(const HttpRequest& request, const std::string& name) const;

  const std::string host_;
  mutable std::mutex mu_;
  std::map<std::string, Repo> repos_;
  std::vector<HttpRequest> requests_;
  std::set<std::string> corrupt_;
  std::map<std::string, size_t> break_once_;
  std::string basic_user_, basic_password_;
  bool basic_ = false;
  bool bearer_ = false;
  std::string token_user_, token_password_;
  int expires_in_ = 60;
  std::set<std::string> valid_tokens_;
  int tokens_issued_ = 0;
  std::atomic<bool> ignore_range_{false};
  std::atomic<bool> refuse_head_{false};
  std::atomic<bool> down_{false};
};

}  // namespace zlayer::registry::testing
