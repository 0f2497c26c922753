#include "agent/oci/platform.h"

#include <catch2/catch.hpp>

#include "agent/oci/manifest.h"

using namespace zlayer;
using namespace zlayer::oci;

namespace {

Descriptor Entry(char digit, std::optional<Platform> platform) {
  return Descriptor{
      kMediaTypeOciManifest, "sha256:" + std::string(64, digit), 100, {}, std::move(platform)};
}

}  // namespace

TEST_CASE("Machine names from uname map to containerd's platform names") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"x86_64", "linux/amd64"},    {"aarch64", "linux/arm64"}, {"arm64", "linux/arm64"},
      {"armv7l", "linux/arm/v7"},   {"armv6l", "linux/arm/v6"}, {"armv5tel", "linux/arm/v5"},
      {"armv8l", "linux/arm/v8"},   {"i686", "linux/386"},      {"i386", "linux/386"},
      {"riscv64", "linux/riscv64"}, {"s390x", "linux/s390x"},
  };
  for (const auto& [machine, platform] : cases) {
    CAPTURE(machine);
    CHECK(PlatformString(PlatformFromMachine(machine)) == platform);
  }
  REQUIRE(HostPlatform().ok());
  CHECK(HostPlatform()->os == "linux");
}

TEST_CASE("Platforms normalise as containerd's do") {
  const std::vector<std::pair<Platform, std::string>> cases = {
      {{"Linux", "x86_64", ""}, "linux/amd64"},     {{"linux", "x86-64", "v1"}, "linux/amd64"},
      {{"linux", "amd64", "v3"}, "linux/amd64/v3"}, {{"linux", "aarch64", "v8"}, "linux/arm64"},
      {{"linux", "arm64", "8"}, "linux/arm64"},     {{"linux", "armhf", ""}, "linux/arm/v7"},
      {{"linux", "armel", ""}, "linux/arm/v6"},     {{"linux", "arm", ""}, "linux/arm/v7"},
      {{"linux", "arm", "6"}, "linux/arm/v6"},      {{"linux", "i386", ""}, "linux/386"},
  };
  for (const auto& [platform, expected] : cases) {
    CAPTURE(expected);
    CHECK(PlatformString(NormalizePlatform(platform)) == expected);
  }
}

TEST_CASE("The host's exact platform is chosen from an index, variants normalised") {
  std::vector<Descriptor> entries = {
      Entry('1', Platform{"linux", "arm64", "v8"}),
      Entry('2', Platform{"linux", "amd64", ""}),
      Entry('3', Platform{"linux", "arm", "v7"}),
  };
  CHECK(ChooseManifest(entries, {"linux", "amd64", ""})->digest[7] == '2');
  CHECK(ChooseManifest(entries, PlatformFromMachine("aarch64"))->digest[7] == '1');
  CHECK(ChooseManifest(entries, PlatformFromMachine("armv7l"))->digest[7] == '3');
}

TEST_CASE("A host falls back to older platforms, but prefers its own wherever it is listed") {
  std::vector<Descriptor> entries = {
      Entry('1', Platform{"linux", "386", ""}),
      Entry('2', Platform{"linux", "amd64", ""}),
      Entry('3', Platform{"linux", "arm", "v6"}),
      Entry('4', Platform{"linux", "arm", "v7"}),
  };
  CHECK(ChooseManifest(entries, {"linux", "amd64", ""})->digest[7] == '2');
  entries.erase(entries.begin() + 1);
  CHECK(ChooseManifest(entries, {"linux", "amd64", ""})->digest[7] == '1');
  // arm64 runs arm/v7 before arm/v6; arm/v6 does not run arm/v7.
  CHECK(ChooseManifest(entries, {"linux", "arm64", ""})->digest[7] == '4');
  CHECK(ChooseManifest(entries, {"linux", "arm", "v6"})->digest[7] == '3');
}

TEST_CASE("Entries without a platform come last, and no match is not found naming the offers") {
  std::vector<Descriptor> entries = {
      Entry('1', std::nullopt),
      Entry('2', Platform{"linux", "amd64", ""}),
  };
  CHECK(ChooseManifest(entries, {"linux", "amd64", ""})->digest[7] == '2');
  CHECK(ChooseManifest(entries, {"linux", "arm64", ""})->digest[7] == '1');

  std::vector<Descriptor> other = {
      Entry('1', Platform{"linux", "amd64", "v3"}),
      Entry('2', Platform{"unknown", "unknown", ""}),
      Entry('3', Platform{"windows", "amd64", ""}),
  };
  Result<Descriptor> none = ChooseManifest(other, {"linux", "amd64", ""});
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == StatusCode::kNotFound);
  CHECK(none.status().message() ==
        "no match for platform linux/amd64 in index (offers linux/amd64/v3, unknown/unknown, "
        "windows/amd64)");
}

TEST_CASE("An OCI index's platforms are read from its entries") {
  Result<Index> index =
      ParseIndex(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
    "manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" +
                 std::string(64, '1') + R"(","size":349,
       "platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" +
                 std::string(64, '2') + R"(","size":350,
       "platform":{"architecture":"amd64","os":"linux"}}]})");
  REQUIRE(index.ok());
  REQUIRE(index->manifests.size() == 2);
  CHECK(index->manifests[0].platform == Platform{"linux", "arm64", "v8"});
  CHECK(ChooseManifest(index->manifests, {"linux", "amd64", ""})->size == 350);

  CHECK_FALSE(ParseIndex("{}").ok());
  CHECK_THAT(
      ParseIndex(R"({"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"md5:1","size":1}]})")
          .status()
          .message(),
      Catch::Contains("manifests[0].digest"));
}
