#include "agent/images/puller.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "agent/oci/manifest.h"
#include "fake_registry.h"
#include "test/support/containerd/fake_client.h"
#include "test_images.h"

using namespace zlayer;
using namespace zlayer::images;
using namespace zlayer::oci;
using namespace zlayer::images::testing;
using containerd::FakeClient;
using registry::testing::FakeRegistry;

namespace {

const Platform kAmd64{"linux", "amd64", ""};
const std::string kHost = "reg.test:5000";
const std::string kName = "reg.test:5000/zlayer/busybox:latest";

// containerd (fake), a registry (fake) serving a test image layout, and a puller.
struct Node {
  Node() : store(client, "overlayfs", kAmd64) {
    registry::RegistryOptions options;
    options.insecure_registries = {kHost};
    client_registry = std::make_unique<registry::RegistryClient>(fake, options);
    puller = std::make_unique<Puller>(client, store, *client_registry);
  }
  // Builds a test image with `build_options` and serves it as zlayer/busybox.
  std::string Serve(const std::string& build_options) {
    std::string digest = BuildTestImage(build_options, dir.path() + "/layout");
    fake.LoadLayout("zlayer/busybox", dir.path() + "/layout");
    return digest;
  }
  Result<LocalImage> Pull(const std::string& reference = kName, PullOptions options = {}) {
    events.clear();
    return puller->Pull(
        reference, options, [&](const PullResolved& r) { resolved = r; },
        [&](const ProgressEvent& e) {
          std::lock_guard lock(mu);
          events.push_back(e);
        });
  }
  int Count(ProgressEvent::Kind kind, bool already_present) {
    int n = 0;
    for (const auto& e : events) n += e.kind == kind && e.already_present == already_present;
    return n;
  }

  TempDir dir;
  FakeClient client;
  ImageStore store;
  FakeRegistry fake{kHost};
  std::unique_ptr<registry::RegistryClient> client_registry;
  std::unique_ptr<Puller> puller;
  std::mutex mu;
  std::vector<ProgressEvent> events;
  PullResolved resolved;
};

}  // namespace

TEST_CASE("Pulling a multi-layer image stores, unpacks and names it with containerd's labels") {
  Node node;
  std::string digest = node.Serve("--layers 3 --filler-mb 2");
  auto image = node.Pull();
  REQUIRE(image.ok());
  CHECK(image->record.name == kName);
  CHECK(image->record.target.digest == digest);
  CHECK(image->unpacked);
  REQUIRE(image->layers.size() == 4);

  CHECK(node.resolved.name == kName);
  CHECK(node.resolved.target.digest == digest);
  CHECK(node.resolved.blobs.size() == 5);  // config + 4 layers
  CHECK(PlatformString(node.resolved.platform) == "linux/amd64");

  auto record = node.client.GetImage(kName);
  REQUIRE(record.ok());
  CHECK(record->target.digest == digest);

  auto config = node.client.GetContent(image->config_descriptor.digest);
  REQUIRE(config.ok());
  CHECK(config->labels["containerd.io/gc.ref.snapshot.overlayfs"] == image->TopChainId());
  auto manifest = node.client.GetContent(image->manifest.digest);
  REQUIRE(manifest.ok());
  CHECK(manifest->labels["containerd.io/gc.ref.content.config"] == image->config_descriptor.digest);
  CHECK(manifest->labels["containerd.io/gc.ref.content.l.3"] == image->layers[3].digest);
  auto layer = node.client.GetContent(image->layers[0].digest);
  REQUIRE(layer.ok());
  CHECK(layer->labels["containerd.io/distribution.source.reg.test"] == "zlayer/busybox");
  CHECK(layer->labels["containerd.io/uncompressed"] == image->config.diff_ids[0]);

  CHECK(node.Count(ProgressEvent::Kind::kBlobWritten, false) == 6);  // config, 4 layers, manifest
  CHECK(node.Count(ProgressEvent::Kind::kLayerUnpacked, false) == 4);
  CHECK(node.fake.Count("GET", "/blobs/") == 5);
}

TEST_CASE("Pulling an image a second time fetches no blob and changes nothing") {
  Node node;
  node.Serve("--layers 2 --filler-mb 1");
  REQUIRE(node.Pull().ok());
  int blob_gets = node.fake.Count("GET", "/blobs/");
  int manifest_gets = node.fake.Count("GET", "/manifests/");
  auto again = node.Pull();
  REQUIRE(again.ok());
  CHECK(node.fake.Count("GET", "/blobs/") == blob_gets);
  CHECK(node.fake.Count("GET", "/manifests/") == manifest_gets);
  CHECK(node.Count(ProgressEvent::Kind::kBlobWritten, false) == 0);
  CHECK(node.Count(ProgressEvent::Kind::kLayerUnpacked, true) == 3);
  CHECK(node.Count(ProgressEvent::Kind::kImageStored, true) == 1);
}

TEST_CASE("A pull whose connection breaks mid-layer fails, and the next pull resumes it") {
  Node node;
  node.Serve("--layers 1 --filler-mb 2");
  // Find the big layer: the one with the filler.
  auto d = node.client_registry->Resolve(*ParseReference(kName));
  REQUIRE(d.ok());
  auto m = ParseManifest(*node.client_registry->FetchManifest(*ParseReference(kName), *d));
  REQUIRE(m.ok());
  const oci::Descriptor& big = m->layers[1];
  REQUIRE(big.size > 1000000);
  node.fake.BreakBlobOnce(big.digest, 700000);

  auto failed = node.Pull();
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().code() == StatusCode::kUnavailable);
  CHECK(failed.status().message().find("registry reg.test:5000") != std::string::npos);
  CHECK(node.client.GetImage(kName).status().code() == StatusCode::kNotFound);

  auto resumed = node.Pull();
  REQUIRE(resumed.ok());
  bool ranged = false;
  for (const auto& r : node.fake.Requests()) {
    if (r.url.find(big.digest) == std::string::npos) continue;
    for (const auto& [k, v] : r.headers) ranged = ranged || (k == "Range" && v == "bytes=700000-");
  }
  CHECK(ranged);
  CHECK(resumed->unpacked);
}

TEST_CASE("A layer whose bytes do not match its digest is rejected and nothing is named") {
  Node node;
  node.Serve("--layers 1 --filler-mb 1");
  auto d = node.client_registry->Resolve(*ParseReference(kName));
  REQUIRE(d.ok());
  auto m = ParseManifest(*node.client_registry->FetchManifest(*ParseReference(kName), *d));
  REQUIRE(m.ok());
  node.fake.CorruptBlob(m->layers[1].digest);
  auto pulled = node.Pull();
  REQUIRE_FALSE(pulled.ok());
  CHECK(pulled.status().code() == StatusCode::kDataLoss);
  CHECK(pulled.status().message().find(m->layers[1].digest) != std::string::npos);
  CHECK(node.client.GetImage(kName).status().code() == StatusCode::kNotFound);
  CHECK(node.client.GetContent(m->layers[1].digest).status().code() == StatusCode::kNotFound);
}

TEST_CASE("From a two-platform index the host's manifest is pulled, another on request") {
  Node node;
  std::string index_digest = node.Serve("--multi-platform");
  auto amd64 = node.Pull();
  REQUIRE(amd64.ok());
  CHECK(amd64->record.target.digest == index_digest);
  CHECK(amd64->record.target.media_type == kMediaTypeOciIndex);
  CHECK(PlatformString(node.resolved.platform) == "linux/amd64");
  auto index = node.client.GetContent(index_digest);
  REQUIRE(index.ok());
  CHECK(index->labels.count("containerd.io/gc.ref.content.m.0") == 1);
  CHECK(index->labels.count("containerd.io/gc.ref.content.m.1") == 1);

  PullOptions arm;
  arm.platform = Platform{"linux", "arm64", ""};
  auto arm64 = node.Pull(kName, arm);
  REQUIRE(arm64.ok());
  CHECK(PlatformString(node.resolved.platform) == "linux/arm64");
  CHECK(arm64->manifest.digest != amd64->manifest.digest);

  PullOptions riscv;
  riscv.platform = Platform{"linux", "riscv64", ""};
  auto none = node.Pull(kName, riscv);
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == StatusCode::kFailedPrecondition);
  CHECK(none.status().message().find("linux/riscv64") != std::string::npos);
}

TEST_CASE("An unknown tag fails naming the registry, with no image record") {
  Node node;
  node.Serve("");
  auto pulled = node.Pull("reg.test:5000/zlayer/busybox:nope");
  REQUIRE_FALSE(pulled.ok());
  CHECK(pulled.status().code() == StatusCode::kNotFound);
  CHECK(pulled.status().message().find("unknown tag") != std::string::npos);
}

TEST_CASE("Layers are fetched concurrently up to the configured number") {
  // With one fetcher the layers are requested in manifest order; the count of
  // threads only changes who fetches, so the result is the same image.
  for (int concurrency : {1, 3}) {
    Node node;
    std::string digest = node.Serve("--layers 3 --filler-mb 1");
    PullOptions options;
    options.concurrency = concurrency;
    auto image = node.Pull(kName, options);
    REQUIRE(image.ok());
    CHECK(image->record.target.digest == digest);
    CHECK(image->unpacked);
  }
}

TEST_CASE("zstd-compressed and uncompressed layers are pulled and unpacked like gzip ones") {
  Node node;
  node.Serve("--layers 2");
  std::string blobs = node.dir.path() + "/layout/blobs/sha256/";
  auto d = node.client_registry->Resolve(*ParseReference(kName));
  REQUIRE(d.ok());
  auto m = ParseManifest(*node.client_registry->FetchManifest(*ParseReference(kName), *d));
  REQUIRE(m.ok());
  REQUIRE(m->layers.size() == 3);
  std::string gz1 = blobs + m->layers[1].digest.substr(7);
  std::string gz2 = blobs + m->layers[2].digest.substr(7);
  Shell("gzip -dc " + gz1 + " | zstd -q -c > " + node.dir.path() + "/l1.zst");
  Shell("gzip -dc " + gz2 + " > " + node.dir.path() + "/l2.tar");
  std::string zst = ReadFile(node.dir.path() + "/l1.zst");
  std::string tar = ReadFile(node.dir.path() + "/l2.tar");
  std::string repo = "zlayer/mixed";
  node.fake.AddBlob(repo, ReadFile(blobs + m->config.digest.substr(7)));
  node.fake.AddBlob(repo, ReadFile(blobs + m->layers[0].digest.substr(7)));
  std::string zst_digest = node.fake.AddBlob(repo, zst);
  std::string tar_digest = node.fake.AddBlob(repo, tar);
  nlohmann::json manifest = {{"schemaVersion", 2},
                             {"mediaType", kMediaTypeOciManifest},
                             {"config",
                              {{"mediaType", m->config.media_type},
                               {"digest", m->config.digest},
                               {"size", m->config.size}}},
                             {"layers",
                              {{{"mediaType", m->layers[0].media_type},
                                {"digest", m->layers[0].digest},
                                {"size", m->layers[0].size}},
                               {{"mediaType", "application/vnd.oci.image.layer.v1.tar+zstd"},
                                {"digest", zst_digest},
                                {"size", zst.size()}},
                               {{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                {"digest", tar_digest},
                                {"size", tar.size()}}}}};
  node.fake.AddManifest(repo, "mixed", kMediaTypeOciManifest, manifest.dump());

  auto image = node.Pull("reg.test:5000/zlayer/mixed:mixed");
  REQUIRE(image.ok());
  CHECK(image->unpacked);
  REQUIRE(image->layers.size() == 3);
  CHECK(image->layers[1].media_type == "application/vnd.oci.image.layer.v1.tar+zstd");
  for (size_t i = 0; i < 3; ++i) {  // each layer decompressed to its diff id
    CHECK(node.client.AppliedDiffs("overlayfs", image->chain_ids[i]) ==
          std::vector<std::string>{image->config.diff_ids[i]});
  }
}
