#include "agent/registry/client.h"

#include <catch2/catch.hpp>

#include "agent/oci/digest.h"
#include "agent/oci/manifest.h"
#include "fake_registry.h"

using namespace zlayer;
using namespace zlayer::registry;
using testing::FakeRegistry;

namespace {

const std::string kHost = "reg.test:5000";
const std::string kRepo = "zlayer/app";
const std::string kManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]})";

oci::Reference Ref(const std::string& text) { return *oci::ParseReference(text); }

struct Setup {
  Setup() {
    manifest_digest = registry.AddManifest(kRepo, "v1", oci::kMediaTypeOciManifest, kManifest);
    blob = std::string(100000, 'x');
    for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 7);
    blob_digest = registry.AddBlob(kRepo, blob);
  }
  RegistryClient Client(Credentials creds = {}) {
    RegistryOptions options;
    options.credentials = [creds] { return creds; };
    options.insecure_registries = {kHost};
    options.clock = [this] { return now; };
    return RegistryClient(registry, options);
  }
  oci::Descriptor Blob() const {
    return {"application/octet-stream", blob_digest, static_cast<int64_t>(blob.size()), {}};
  }
  std::string ReadAll(BlobReader& reader) {
    std::string out;
    char buffer[4096];
    while (true) {
      auto n = reader.Read(buffer, sizeof buffer);
      REQUIRE(n.ok());
      if (*n == 0) return out;
      out.append(buffer, *n);
    }
  }

  FakeRegistry registry{kHost};
  std::string manifest_digest, blob, blob_digest;
  std::chrono::steady_clock::time_point now{};
};

}  // namespace

TEST_CASE("Loopback and listed hosts use plain HTTP; everything else HTTPS") {
  FakeRegistry fake(kHost);
  RegistryOptions options;
  options.insecure_registries = {"insecure.test:5000"};
  RegistryClient client(fake, options);
  CHECK(client.SchemeFor("127.0.0.1:5000") == "http");
  CHECK(client.SchemeFor("localhost") == "http");
  CHECK(client.SchemeFor("[::1]:5000") == "http");
  CHECK(client.SchemeFor("insecure.test:5000") == "http");
  CHECK(client.SchemeFor("insecure.test:5001") == "https");
  CHECK(client.SchemeFor("docker.io") == "https");
}

TEST_CASE("Resolving a tag gives the manifest's media type, digest and size with a HEAD") {
  Setup s;
  auto client = s.Client();
  auto d = client.Resolve(Ref(kHost + "/" + kRepo + ":v1"));
  REQUIRE(d.ok());
  CHECK(d->media_type == oci::kMediaTypeOciManifest);
  CHECK(d->digest == s.manifest_digest);
  CHECK(d->size == static_cast<int64_t>(kManifest.size()));
  CHECK(s.registry.Count("HEAD", "/v2/zlayer/app/manifests/v1") == 1);
  CHECK(s.registry.Count("GET", "manifests") == 0);
  auto requests = s.registry.Requests();
  REQUIRE_FALSE(requests.empty());
  CHECK(requests[0].url == "http://reg.test:5000/v2/zlayer/app/manifests/v1");
  bool accept_oci = false;
  for (const auto& [k, v] : requests[0].headers) {
    accept_oci =
        accept_oci || (k == "Accept" && v.find(oci::kMediaTypeOciIndex) != std::string::npos);
  }
  CHECK(accept_oci);
}

TEST_CASE("A registry that refuses HEAD is asked again with GET") {
  Setup s;
  s.registry.RefuseHead(true);
  auto d = s.Client().Resolve(Ref(kHost + "/" + kRepo + ":v1"));
  REQUIRE(d.ok());
  CHECK(d->digest == s.manifest_digest);
  CHECK(s.registry.Count("GET", "manifests/v1") == 1);
}

TEST_CASE("An unknown tag and an unknown repository are told apart, naming the registry") {
  Setup s;
  auto client = s.Client();
  auto tag = client.Resolve(Ref(kHost + "/" + kRepo + ":nope"));
  REQUIRE_FALSE(tag.ok());
  CHECK(tag.status().code() == StatusCode::kNotFound);
  CHECK(tag.status().message().find("registry reg.test:5000") != std::string::npos);
  CHECK(tag.status().message().find("unknown tag") != std::string::npos);
  auto repo = client.Resolve(Ref(kHost + "/zlayer/none:v1"));
  REQUIRE_FALSE(repo.ok());
  CHECK(repo.status().code() == StatusCode::kNotFound);
  CHECK(repo.status().message().find("unknown repository") != std::string::npos);
}

TEST_CASE("An unreachable registry is kUnavailable naming it") {
  Setup s;
  auto d = s.Client().Resolve(Ref("other.test/x:1"));
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code() == StatusCode::kUnavailable);
  CHECK(d.status().message().find("registry other.test") != std::string::npos);
}

TEST_CASE("A manifest whose bytes do not match its digest is kDataLoss") {
  Setup s;
  auto client = s.Client();
  auto d = client.Resolve(Ref(kHost + "/" + kRepo + ":v1"));
  REQUIRE(d.ok());
  s.registry.CorruptBlob(s.manifest_digest);
  auto fetched = client.FetchManifest(Ref(kHost + "/" + kRepo + ":v1"), *d);
  REQUIRE_FALSE(fetched.ok());
  CHECK(fetched.status().code() == StatusCode::kDataLoss);
  CHECK(fetched.status().message().find("digest mismatch") != std::string::npos);
}

TEST_CASE("A blob is read from an offset with a Range request") {
  Setup s;
  auto client = s.Client();
  auto reader = client.OpenBlob(Ref(kHost + "/" + kRepo + ":v1"), s.Blob(), 4000);
  REQUIRE(reader.ok());
  CHECK(s.ReadAll(**reader) == s.blob.substr(4000));
  auto requests = s.registry.Requests();
  bool ranged = false;
  for (const auto& [k, v] : requests.back().headers)
    ranged = ranged || (k == "Range" && v == "bytes=4000-");
  CHECK(ranged);
}

TEST_CASE("A registry that ignores Range still yields the bytes from the offset") {
  Setup s;
  s.registry.IgnoreRange(true);
  auto reader = s.Client().OpenBlob(Ref(kHost + "/" + kRepo + ":v1"), s.Blob(), 12345);
  REQUIRE(reader.ok());
  CHECK(s.ReadAll(**reader) == s.blob.substr(12345));
}

TEST_CASE("Bearer auth: the challenge's realm issues a token, reused until it expires") {
  Setup s;
  s.registry.RequireBearer("", "", 60);
  auto client = s.Client();
  auto ref = Ref(kHost + "/" + kRepo + ":v1");
  REQUIRE(client.Resolve(ref).ok());
  CHECK(s.registry.Count("GET", "auth.test/token") == 1);
  auto requests = s.registry.Requests();
  std::string token_url;
  for (const auto& r : requests) {
    if (r.url.find("auth.test") != std::string::npos) token_url = r.url;
  }
  CHECK(token_url.find("service=fake-registry") != std::string::npos);
  CHECK(token_url.find("scope=repository%3Azlayer%2Fapp%3Apull") != std::string::npos);

  // Within the lifetime: no new token, and no 401 round trip.
  int before = static_cast<int>(s.registry.Requests().size());
  REQUIRE(client.Resolve(ref).ok());
  CHECK(static_cast<int>(s.registry.Requests().size()) == before + 1);
  CHECK(s.registry.Count("GET", "auth.test/token") == 1);

  // After expires_in: the client refreshes the token.
  s.now += std::chrono::seconds(61);
  s.registry.ExpireTokens();
  REQUIRE(client.Resolve(ref).ok());
  CHECK(s.registry.Count("GET", "auth.test/token") == 2);
}

TEST_CASE("Bearer auth with config.json credentials sends them to the token endpoint") {
  Setup s;
  s.registry.RequireBearer("zl", "s3cret");
  Credentials good;
  good.Add(kHost, {"zl", "s3cret"});
  REQUIRE(s.Client(good).Resolve(Ref(kHost + "/" + kRepo + ":v1")).ok());
  Credentials bad;
  bad.Add(kHost, {"zl", "wrong"});
  auto refused = s.Client(bad).Resolve(Ref(kHost + "/" + kRepo + ":v1"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kUnauthenticated);
  CHECK(refused.status().message().find("registry reg.test:5000") != std::string::npos);
}

TEST_CASE("Basic auth: right credentials pass, wrong or missing ones are kUnauthenticated") {
  Setup s;
  s.registry.RequireBasic("zl", "s3cret");
  Credentials good;
  good.Add(kHost, {"zl", "s3cret"});
  REQUIRE(s.Client(good).Resolve(Ref(kHost + "/" + kRepo + ":v1")).ok());
  Credentials bad;
  bad.Add(kHost, {"zl", "nope"});
  auto wrong = s.Client(bad).Resolve(Ref(kHost + "/" + kRepo + ":v1"));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().code() == StatusCode::kUnauthenticated);
  auto none = s.Client().Resolve(Ref(kHost + "/" + kRepo + ":v1"));
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == StatusCode::kUnauthenticated);
  CHECK(none.status().message().find("no credentials") != std::string::npos);
}
