#include "agent/images/importer.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent/images/unpacker.h"
#include "agent/oci/digest.h"
#include "agent/oci/manifest.h"
#include "test/support/containerd/fake_client.h"
#include "test_images.h"

using namespace zlayer;
using namespace zlayer::images;
using namespace zlayer::oci;
using namespace zlayer::images::testing;
using containerd::FakeClient;
using Method = containerd::FakeClient::Method;

namespace {

const Platform kAmd64{"linux", "amd64", ""};
const std::string kName = "docker.io/zlayer/busybox:latest";

// The fake, a store over it and an importer, on linux/amd64.
struct Node {
  explicit Node(Platform platform = kAmd64) : store(client, "overlayfs", platform) {}
  FakeClient client;
  ImageStore store;
  Importer importer{client, store};
};

std::string Hex(const std::string& digest) { return digest.substr(7); }

}  // namespace

TEST_CASE("Importing an OCI archive stores, unpacks and names the image with containerd's labels") {
  TempDir dir;
  std::string archive = dir.path() + "/busybox.tar";
  std::string manifest_digest = BuildTestImage("--format oci-archive", archive);
  Node node;
  std::vector<ProgressEvent> events;
  Result<std::vector<std::string>> names =
      node.importer.Import(archive, [&](const ProgressEvent& e) { events.push_back(e); });
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{kName});

  Result<LocalImage> image = node.store.Resolve("zlayer/busybox");
  REQUIRE(image.ok());
  CHECK(image->record.name == kName);
  CHECK(image->record.target.digest == manifest_digest);
  CHECK(image->manifest.digest == manifest_digest);
  CHECK(image->manifest.media_type == kMediaTypeOciManifest);
  CHECK(image->unpacked);
  REQUIRE(image->layers.size() == 1);
  CHECK(image->config.cmd == std::vector<std::string>{"/bin/sh"});
  CHECK(image->config.working_dir == "/");
  CHECK(image->chain_ids == image->config.diff_ids);  // one layer: chain id = diff id
  CHECK(image->TopChainId() == image->config.diff_ids[0]);
  CHECK(image->size ==
        image->manifest.size + image->config_descriptor.size + image->layers[0].size);

  // The labels containerd's own client would have set (notes §5, §6).
  containerd::Labels manifest_labels = node.client.GetContent(manifest_digest)->labels;
  CHECK(manifest_labels.at("containerd.io/gc.ref.content.config") ==
        image->config_descriptor.digest);
  CHECK(manifest_labels.at("containerd.io/gc.ref.content.l.0") == image->layers[0].digest);
  CHECK(node.client.GetContent(image->config_descriptor.digest)
            ->labels.at("containerd.io/gc.ref.snapshot.overlayfs") == image->TopChainId());
  CHECK(node.client.GetContent(image->layers[0].digest)->labels.at("containerd.io/uncompressed") ==
        image->config.diff_ids[0]);
  CHECK(node.client.SnapshotKeys("overlayfs") == image->chain_ids);
  CHECK(node.client.AppliedDiffs("overlayfs", image->TopChainId()) == image->config.diff_ids);
  CHECK(node.client.LeaseIds().empty());

  // Progress: every blob written, the layer unpacked, the name stored, in that order.
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().kind == ProgressEvent::Kind::kImageStored);
  CHECK(events.back().name == kName);
  int written = 0, unpacked = 0;
  for (const ProgressEvent& e : events) {
    written += e.kind == ProgressEvent::Kind::kBlobWritten;
    unpacked += e.kind == ProgressEvent::Kind::kLayerUnpacked;
  }
  CHECK(written == 3);
  CHECK(unpacked == 1);

  SECTION("once the lease is gone, garbage collection keeps everything the record reaches") {
    std::vector<std::string> content = node.client.ContentDigests();
    node.client.CollectGarbage();
    CHECK(node.client.ContentDigests() == content);
    CHECK(node.client.SnapshotKeys("overlayfs") == image->chain_ids);
  }
  SECTION("importing it again changes nothing") {
    node.client.ResetCallCounts();
    std::vector<std::string> content = node.client.ContentDigests();
    containerd::ImageRecord before = *node.client.GetImage(kName);
    REQUIRE(node.importer.Import(archive).ok());
    CHECK(node.client.CallCount(Method::kPutImage) == 0);
    CHECK(node.client.CallCount(Method::kPrepareSnapshot) == 0);
    CHECK(node.client.CallCount(Method::kApplyDiff) == 0);
    CHECK(node.client.ContentDigests() == content);
    CHECK(node.client.GetImage(kName)->updated_at == before.updated_at);
    CHECK(node.client.SnapshotKeys("overlayfs") == image->chain_ids);
  }
  SECTION("List shows its name, digest, size and that it is unpacked") {
    Result<std::vector<ImageSummary>> list = node.store.List();
    REQUIRE(list.ok());
    REQUIRE(list->size() == 1);
    CHECK((*list)[0].name == kName);
    CHECK((*list)[0].digest == manifest_digest);
    CHECK((*list)[0].size == image->size);
    CHECK((*list)[0].unpacked);
    CHECK((*list)[0].problem.empty());
  }
  SECTION("Remove deletes the record, and GC then collects its content and snapshots") {
    REQUIRE(node.store.Remove("zlayer/busybox:latest").ok());
    CHECK(node.client.ListImages()->empty());
    node.client.CollectGarbage();
    CHECK(node.client.ContentDigests().empty());
    CHECK(node.client.SnapshotKeys("overlayfs").empty());
    Status again = node.store.Remove("zlayer/busybox");
    CHECK(again.code() == StatusCode::kNotFound);
    CHECK(again.message() == "image docker.io/zlayer/busybox:latest: not found");
  }
  SECTION("an image whose snapshots are gone resolves as not unpacked, and Unpack restores it") {
    for (auto it = image->chain_ids.rbegin(); it != image->chain_ids.rend(); ++it) {
      REQUIRE(node.client.RemoveSnapshot("overlayfs", *it).ok());
    }
    CHECK_FALSE(node.store.Resolve(kName)->unpacked);
    CHECK_FALSE((*node.store.List())[0].unpacked);
    REQUIRE(node.store.Unpack(*node.store.Resolve(kName)).ok());
    CHECK(node.store.Resolve(kName)->unpacked);
  }
}

TEST_CASE("Importing a docker save archive stores a Docker schema 2 manifest over the layers") {
  TempDir dir;
  std::string archive = dir.path() + "/busybox-docker.tar";
  BuildTestImage("--layers 2 --format docker-archive", archive);
  Node node;
  Result<std::vector<std::string>> names = node.importer.Import(archive);
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{kName});

  Result<LocalImage> image = node.store.Resolve(kName);
  REQUIRE(image.ok());
  CHECK(image->record.target.media_type == kMediaTypeDockerManifest);
  CHECK(image->config_descriptor.media_type == kMediaTypeDockerConfig);
  REQUIRE(image->layers.size() == 3);
  for (const auto& layer : image->layers) CHECK(layer.media_type == kMediaTypeDockerLayer);
  // Uncompressed layers: each blob's digest is its diff id.
  for (size_t i = 0; i < 3; ++i) CHECK(image->layers[i].digest == image->config.diff_ids[i]);
  // The chain computed by hand in the unpacker test for these three diff ids.
  CHECK(image->TopChainId() ==
        "sha256:df387b96d7cc98fe630ec9e6e69ae821bcde842fba07e42af78481efe6b37cec");
  CHECK(image->unpacked);
  CHECK(node.client.SnapshotKeys("overlayfs").size() == 3);

  // The generated manifest is what containerd's importer writes, byte for byte.
  std::string manifest = *node.client.ReadContent(image->manifest.digest, 1 << 20);
  CHECK(
      manifest.rfind(
          R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")",
          0) == 0);
  CHECK(Sha256Digest(manifest) == image->manifest.digest);
  containerd::Labels labels = node.client.GetContent(image->manifest.digest)->labels;
  CHECK(labels.at("containerd.io/gc.ref.content.l.2") == image->layers[2].digest);

  SECTION("and a second import is a no-op") {
    node.client.ResetCallCounts();
    REQUIRE(node.importer.Import(archive).ok());
    CHECK(node.client.CallCount(Method::kPutImage) == 0);
    CHECK(node.client.CallCount(Method::kApplyDiff) == 0);
  }
}

TEST_CASE("A multi-platform archive unpacks the manifest of the store's platform") {
  TempDir dir;
  std::string archive = dir.path() + "/multi.tar";
  std::string index_digest = BuildTestImage("--multi-platform --format oci-archive", archive);

  Node amd64;
  REQUIRE(amd64.importer.Import(archive).ok());
  Result<LocalImage> image = amd64.store.Resolve(kName);
  REQUIRE(image.ok());
  CHECK(image->record.target.digest == index_digest);
  CHECK(image->record.target.media_type == kMediaTypeOciIndex);
  CHECK(image->config.architecture == "amd64");
  CHECK(image->unpacked);
  containerd::Labels index_labels = amd64.client.GetContent(index_digest)->labels;
  CHECK(index_labels.count("containerd.io/gc.ref.content.m.0"));
  CHECK(index_labels.count("containerd.io/gc.ref.content.m.1"));

  Node arm64(Platform{"linux", "arm64", ""});
  REQUIRE(arm64.importer.Import(archive).ok());
  Result<LocalImage> arm_image = arm64.store.Resolve(kName);
  REQUIRE(arm_image.ok());
  CHECK(arm_image->config.architecture == "arm64");
  CHECK(arm_image->manifest.digest != image->manifest.digest);

  Node riscv(Platform{"linux", "riscv64", ""});
  Result<std::vector<std::string>> refused = riscv.importer.Import(archive);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kNotFound);
  CHECK_THAT(refused.status().message(), Catch::Contains("no match for platform linux/riscv64"));
  CHECK(riscv.client.ListImages()->empty());
}

TEST_CASE("A corrupted layer in an OCI archive is rejected before anything is written") {
  TempDir dir;
  std::string archive = dir.path() + "/corrupt.tar";
  BuildTestImage("--format oci-archive", archive);
  Node reference;
  REQUIRE(reference.importer.Import(archive).ok());
  std::string layer = reference.store.Resolve(kName)->layers[0].digest;
  CorruptTarMember(archive, "blobs/sha256/" + Hex(layer));

  Node node;
  Result<std::vector<std::string>> result = node.importer.Import(archive);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::kDataLoss);
  CHECK_THAT(result.status().message(),
             Catch::StartsWith(archive + ": blobs/sha256/" + Hex(layer) + ": content hashes to"));
  CHECK(node.client.ListImages()->empty());
  CHECK(node.client.ContentDigests().empty());
  CHECK(node.client.CallCount(Method::kWriteContent) == 0);
  CHECK(node.client.LeaseIds().empty());
}

TEST_CASE("A corrupted layer in a docker save archive is rejected against the config's diff id") {
  TempDir dir;
  std::string archive = dir.path() + "/corrupt-docker.tar";
  BuildTestImage("--format docker-archive", archive);
  // Find the layer's member name from manifest.json.
  Shell("tar -xOf " + archive + " manifest.json > " + dir.path() + "/manifest.json");
  nlohmann::json manifest = nlohmann::json::parse(ReadFile(dir.path() + "/manifest.json"));
  std::string layer = manifest[0]["Layers"][0];
  // The layer member may be a symlink to the real file: corrupt what it names.
  Shell("cd " + dir.path() + " && mkdir x && tar -xf " + archive + " -C x");
  std::string real = std::filesystem::path(dir.path() + "/x/" + layer).lexically_normal();
  std::string target = std::filesystem::canonical(real).lexically_relative(
      std::filesystem::canonical(dir.path() + "/x"));
  CorruptTarMember(archive, target);

  Node node;
  Result<std::vector<std::string>> result = node.importer.Import(archive);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::kDataLoss);
  CHECK_THAT(result.status().message(), Catch::StartsWith(archive + ": " + layer));
  CHECK_THAT(result.status().message(), Catch::Contains("diff id for layer 0"));
  CHECK(node.client.ListImages()->empty());
  CHECK(node.client.ContentDigests().empty());
}

TEST_CASE("Archives that are not images are rejected naming the file and the problem") {
  TempDir dir;
  Node node;
  auto import_error = [&](const std::string& path) {
    Result<std::vector<std::string>> result = node.importer.Import(path);
    REQUIRE_FALSE(result.ok());
    CHECK_THAT(result.status().message(), Catch::StartsWith(path + ": "));
    return result.status();
  };

  SECTION("a missing file") {
    Status s = import_error(dir.path() + "/nope.tar");
    CHECK(s.code() == StatusCode::kNotFound);
  }
  SECTION("a file that is not a tar") {
    WriteFile(dir.path() + "/text.tar", "just some text, not an archive\n");
    Status s = import_error(dir.path() + "/text.tar");
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK_THAT(s.message(), Catch::Contains("not a tar archive"));
  }
  SECTION("a tar with neither index.json nor manifest.json") {
    WriteFile(dir.path() + "/hello.txt", "hello");
    Shell("tar -C " + dir.path() + " -cf " + dir.path() + "/plain.tar hello.txt");
    Status s = import_error(dir.path() + "/plain.tar");
    CHECK_THAT(s.message(), Catch::Contains("neither an OCI image layout"));
  }
  SECTION("an OCI layout without index.json") {
    Shell("mkdir " + dir.path() + "/l && echo '{\"imageLayoutVersion\":\"1.0.0\"}' > " +
          dir.path() + "/l/oci-layout && tar -C " + dir.path() + "/l -cf " + dir.path() +
          "/l.tar oci-layout");
    Status s = import_error(dir.path() + "/l.tar");
    CHECK_THAT(s.message(), Catch::Contains("without index.json"));
  }
  CHECK(node.client.ListImages()->empty());
}

TEST_CASE("A blob missing from an OCI archive is reported with what refers to it") {
  TempDir dir;
  std::string layout = dir.path() + "/layout";
  BuildTestImage("--format oci-layout", layout);
  Node reference;
  std::string archive = dir.path() + "/full.tar";
  Shell("tar -C " + layout + " -cf " + archive + " .");
  REQUIRE(reference.importer.Import(archive).ok());
  LocalImage image = *reference.store.Resolve(kName);

  Shell("chmod -R u+w " + layout + " && rm " + layout + "/blobs/sha256/" +
        Hex(image.layers[0].digest));
  std::string broken = dir.path() + "/broken.tar";
  Shell("tar -C " + layout + " -cf " + broken + " .");
  Node node;
  Result<std::vector<std::string>> result = node.importer.Import(broken);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::kDataLoss);
  CHECK(result.status().message() == broken + ": blob " + image.layers[0].digest +
                                         " (blobs/sha256/" + Hex(image.layers[0].digest) +
                                         ") is missing; manifest " + image.manifest.digest +
                                         " refers to it");
  CHECK(node.client.ListImages()->empty());
}

TEST_CASE("An image named only by a tag needs a base name") {
  TempDir dir;
  std::string layout = dir.path() + "/layout";
  BuildTestImage("--format oci-layout", layout);
  Shell("chmod -R u+w " + layout);
  nlohmann::json index = nlohmann::json::parse(ReadFile(layout + "/index.json"));
  index["manifests"][0]["annotations"].erase("io.containerd.image.name");
  WriteFile(layout + "/index.json", index.dump());
  std::string archive = dir.path() + "/tagged.tar";
  Shell("tar -C " + layout + " -cf " + archive + " .");

  Node node;
  Result<std::vector<std::string>> unnamed = node.importer.Import(archive);
  REQUIRE_FALSE(unnamed.ok());
  CHECK(unnamed.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(unnamed.status().message(),
             Catch::Contains("index.json manifests[0]") &&
                 Catch::Contains("is named only by the tag \"latest\"") &&
                 Catch::Contains("base name"));
  CHECK(node.client.ListImages()->empty());

  Result<std::vector<std::string>> named =
      node.importer.Import(archive, ImportOptions{"example.com/team/app"}, {});
  REQUIRE(named.ok());
  CHECK(*named == std::vector<std::string>{"example.com/team/app:latest"});
  CHECK(node.store.Resolve("example.com/team/app")->unpacked);
}

TEST_CASE("A failed unpack leaves no image record, and GC removes what the import wrote") {
  TempDir dir;
  std::string archive = dir.path() + "/busybox.tar";
  BuildTestImage("--format oci-archive", archive);
  Node node;
  node.client.FailNext(Method::kApplyDiff, InternalError("disk full"));
  Result<std::vector<std::string>> result = node.importer.Import(archive);
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(
      result.status().message(),
      Catch::StartsWith(archive + ": image " + kName + ": unpack into overlayfs: layer sha256:") &&
          Catch::EndsWith(": apply: disk full"));
  CHECK(node.client.ListImages()->empty());
  CHECK(node.client.LeaseIds().empty());
  CHECK_FALSE(node.client.ContentDigests().empty());
  node.client.CollectGarbage();
  CHECK(node.client.ContentDigests().empty());
  CHECK(node.client.SnapshotKeys("overlayfs").empty());
}

TEST_CASE("Resolving an image that is not there is not found, naming the normalised name") {
  Node node;
  Result<LocalImage> missing = node.store.Resolve("busybox");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(missing.status().message() == "image docker.io/library/busybox:latest: not found");
  CHECK(node.store.Resolve("Bad Name").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("An image whose content is gone is listed with the problem") {
  TempDir dir;
  std::string archive = dir.path() + "/busybox.tar";
  BuildTestImage("--format oci-archive", archive);
  Node node;
  REQUIRE(node.importer.Import(archive).ok());
  LocalImage image = *node.store.Resolve(kName);
  REQUIRE(node.client.DeleteContent(image.config_descriptor.digest).ok());
  Result<std::vector<ImageSummary>> list = node.store.List();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].problem ==
        "image " + kName + ": content " + image.config_descriptor.digest + ": not found");
  CHECK_FALSE((*list)[0].unpacked);
  CHECK(node.store.Resolve(kName).status().code() == StatusCode::kNotFound);
}
