// A client of the OCI distribution API (registry v2) for pulls: resolve a reference to
// a descriptor, fetch manifests and small blobs verified, and stream large blobs from
// an offset (containerd-client-notes.md §5, steps 2-4).
//
//   - Scheme: https, except plain http for loopback hosts (localhost, 127.0.0.0/8, ::1)
//     and hosts listed in RegistryOptions::insecure_registries (ZLAYER_INSECURE_REGISTRIES).
//     docker.io is reached as registry-1.docker.io.
//   - Auth: every request first goes out with what the host needed before (nothing at
//     first); a 401 is answered from its WWW-Authenticate challenge - Bearer: a token
//     from the realm (GET realm?service=…&scope=repository:<repo>:pull…, with Basic
//     credentials when config.json has some), cached per host and repository until it
//     expires (expires_in, default 60 s); Basic: the credentials. The request is then
//     retried once; a second 401 is kUnauthenticated.
//   - Accept: the four manifest types (OCI index/manifest, Docker list/schema 2).
//
// Errors name the registry and the step, e.g. `registry 127.0.0.1:5000: resolve
// zlayer/busybox:nope: unknown tag (MANIFEST_UNKNOWN: manifest unknown)`, with codes:
// kNotFound (unknown repository, tag, manifest or blob), kUnauthenticated (refused or
// wrong credentials), kUnavailable (unreachable, timeout, TLS failure, 5xx),
// kDataLoss (digest or size mismatch), kInvalidArgument (a response that breaks the
// protocol, e.g. a manifest over 4 MiB or an unsupported media type).
//
// Thread safety: all methods may be called from several threads at once (the token
// cache is guarded by a mutex).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/oci/descriptor.h"
#include "agent/oci/reference.h"
#include "agent/registry/auth.h"
#include "agent/registry/http.h"
#include "common/status.h"

namespace zlayer::registry {

// The Accept header of manifest requests.
extern const char* const kManifestAccept;

struct RegistryOptions {
  std::vector<std::string> insecure_registries;  // host[:port] reached over plain HTTP
  // Asked for credentials when a registry challenges a request (so an edited
  // config.json counts from the next pull on); none by default.
  std::function<Credentials()> credentials = [] { return Credentials(); };
  std::function<std::chrono::steady_clock::time_point()> clock = [] {
    return std::chrono::steady_clock::now();
  };
};

// A blob's bytes from some offset on. Read returns 0 at the end of the blob.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual Result<size_t> Read(char* buffer, size_t size) = 0;
};

class RegistryClient {
 public:
  // `transport` must outlive the client.
  RegistryClient(HttpTransport& transport, RegistryOptions options);

  // "http" or "https" for `host` (a reference's registry, e.g. "127.0.0.1:5000").
  std::string SchemeFor(const std::string& host) const;

  // The descriptor `ref` points at (tag or digest): media type (Content-Type without
  // parameters), digest (Docker-Content-Digest, or the reference's own digest, or
  // computed from the body when the registry sends none) and size. An unknown tag
  // and an unknown repository are told apart (the tag list answers NAME_UNKNOWN for
  // the latter) in the error message.
  Result<oci::Descriptor> Resolve(const oci::Reference& ref);

  // A manifest or index by descriptor, read whole (<= kMaxManifestSize) and checked
  // against the descriptor's size and digest.
  Result<std::string> FetchManifest(const oci::Reference& ref, const oci::Descriptor& descriptor);
  // A small blob (a config), read whole and checked like FetchManifest.
  Result<std::string> FetchBlob(const oci::Reference& ref, const oci::Descriptor& descriptor);

  // The blob's bytes from `offset` on (HTTP Range; a registry that ignores Range is
  // handled by skipping). The caller checks size and digest (containerd does at commit).
  Result<std::unique_ptr<BlobReader>> OpenBlob(const oci::Reference& ref,
                                               const oci::Descriptor& descriptor, int64_t offset);

 private:
  struct CachedAuth {
    std::string header;  // the Authorization value
    std::optional<std::chrono::steady_clock::time_point> expires;
  };

  // Sends `method` to /v2/<repo>/<path> with auth as described above.
  Result<std::unique_ptr<HttpResponse>> Request(
      const oci::Reference& ref, const std::string& method, const std::string& path,
      std::vector<std::pair<std::string, std::string>> headers);
  // Answers a 401's challenges; sets the cache entry for `key`.
  Status Authenticate(const oci::Reference& ref, const HttpResponse& unauthorized,
                      const std::string& key);
  std::string ApiHost(const oci::Reference& ref) const;

  HttpTransport& transport_;
  RegistryOptions options_;
  std::mutex mu_;                           // guards auth_
  std::map<std::string, CachedAuth> auth_;  // by host + " " + repository
};

// The error a registry's non-2xx answer means, as described above; `what` names the step
// ("resolve zlayer/busybox:latest"). Reads the body for the registry's error codes.
Status ResponseError(HttpResponse& response, const std::string& registry, const std::string& what);

}  // namespace zlayer::registry
