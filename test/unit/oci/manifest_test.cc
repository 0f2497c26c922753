#include "agent/oci/manifest.h"

#include <catch2/catch.hpp>

using namespace zlayer;
using namespace zlayer::oci;

namespace {

std::string Digest(char c) { return "sha256:" + std::string(64, c); }

}  // namespace

TEST_CASE("A manifest's config and layers are read as descriptors, annotations included") {
  Result<Manifest> manifest = ParseManifest(R"({"schemaVersion":2,
    "mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                                            Digest('c') + R"(","size":7},
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
                                            Digest('1') + R"(","size":10,
               "annotations":{"containerd.io/snapshot/x":"y"}}]})");
  REQUIRE(manifest.ok());
  CHECK(manifest->media_type == kMediaTypeOciManifest);
  CHECK(manifest->config == Descriptor{kMediaTypeOciConfig, Digest('c'), 7, {}, std::nullopt});
  REQUIRE(manifest->layers.size() == 1);
  CHECK(manifest->layers[0].annotations.at("containerd.io/snapshot/x") == "y");
  CHECK(IsLayerMediaType(manifest->layers[0].media_type));
}

TEST_CASE(
    "A manifest without a valid config or with schemaVersion 1 is rejected, naming the field") {
  CHECK_THAT(ParseManifest(R"({"schemaVersion":1})").status().message(),
             Catch::Contains("schemaVersion"));
  CHECK_THAT(ParseManifest(R"({"schemaVersion":2,"layers":[]})").status().message(),
             Catch::Contains("config"));
  CHECK_THAT(ParseManifest(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" +
                           Digest('c') + R"(","size":-1},"layers":[]})")
                 .status()
                 .message(),
             Catch::Contains("config.size"));
}

TEST_CASE("A generated Docker manifest is written as containerd's importer writes it") {
  Descriptor config{kMediaTypeDockerConfig, Digest('c'), 7, {{"a", "b"}}, std::nullopt};
  Descriptor layer{kMediaTypeDockerLayer, Digest('1'), 10, {}, std::nullopt};
  CHECK(DockerManifestJson(config, {layer}) ==
        R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
        R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")" +
            Digest('c') +
            R"(","size":7},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar",)"
            R"("digest":")" +
            Digest('1') + R"(","size":10}]})");
}
