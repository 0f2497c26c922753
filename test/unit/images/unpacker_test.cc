#include "agent/images/unpacker.h"

#include <catch2/catch.hpp>

#include "agent/oci/digest.h"
#include "agent/oci/manifest.h"
#include "test/support/containerd/fake_client.h"

using namespace zlayer;
using namespace zlayer::images;
using namespace zlayer::oci;
using containerd::FakeClient;
using oci::Descriptor;
using Method = containerd::FakeClient::Method;

namespace {

// An empty tar is 1024 zero bytes; more zero blocks after it still read as an
// empty tar, which gives layers with distinct digests and nothing in them.
std::string EmptyTar(int extra_blocks) { return std::string(1024 + 512 * extra_blocks, '\0'); }

struct Layers {
  std::vector<Descriptor> blobs;
  std::vector<std::string> diff_ids;
  Descriptor config;
};

// Uncompressed layers in the fake's content store: blob digest == diff id.
Layers AddLayers(FakeClient& client, int count) {
  Layers out;
  for (int i = 0; i < count; ++i) {
    std::string tar = EmptyTar(i);
    std::string digest = client.AddContent(tar);
    out.blobs.push_back(
        {"application/vnd.oci.image.layer.v1.tar", digest, static_cast<int64_t>(tar.size()), {}});
    out.diff_ids.push_back(digest);
  }
  std::string config = R"({"architecture":"amd64","os":"linux"})";
  out.config = {
      kMediaTypeOciConfig, client.AddContent(config), static_cast<int64_t>(config.size()), {}};
  return out;
}

}  // namespace

TEST_CASE("Chain ids follow the image-spec formula, computed here by hand") {
  const std::string d0 = "sha256:5b16b3b16a8e5e833e53cf374b34645dda6a777abb2901db3923655105876fc0";
  const std::string d1 = "sha256:a721a64504e5b5d65eef47e6b8c92237d4412e106e274b75a82de6559b44fb2d";
  const std::string d2 = "sha256:a077bd185812c35a0cbd95f0092bd53c5a5fc8a5ba7d070987475be14cd82534";
  // printf '%s %s' $d0 $d1 | sha256sum, then the same with the result and $d2.
  const std::string c1 = "sha256:5e00e56eafc8c2160a8e98ebcf1fed2dbd715ef8f1dfb203e3f9b58ca19cf9b4";
  const std::string c2 = "sha256:df387b96d7cc98fe630ec9e6e69ae821bcde842fba07e42af78481efe6b37cec";
  CHECK(ChainIds({}).empty());
  CHECK(ChainIds({d0}) == std::vector<std::string>{d0});
  CHECK(ChainIds({d0, d1, d2}) == std::vector<std::string>{d0, c1, c2});
  CHECK(Sha256Digest(d0 + " " + d1) == c1);
}

TEST_CASE("Planning an unpack pairs layers with diff ids and their parents") {
  std::vector<Descriptor> layers(2);
  Result<std::vector<LayerUnpack>> plan = PlanUnpack(layers, {"sha256:a", "sha256:b"});
  REQUIRE(plan.ok());
  CHECK((*plan)[0].parent.empty());
  CHECK((*plan)[0].chain_id == "sha256:a");
  CHECK((*plan)[1].parent == "sha256:a");
  CHECK((*plan)[1].chain_id == Sha256Digest("sha256:a sha256:b"));
  Result<std::vector<LayerUnpack>> mismatch = PlanUnpack(layers, {"sha256:a"});
  REQUIRE_FALSE(mismatch.ok());
  CHECK(mismatch.status().message() == "the manifest has 2 layers but the config has 1 diff ids");
}

TEST_CASE("Unpacking commits one snapshot per layer named by its chain id, with the GC labels") {
  FakeClient client;
  Layers layers = AddLayers(client, 3);
  std::vector<LayerUnpack> plan = *PlanUnpack(layers.blobs, layers.diff_ids);
  Unpacker unpacker(client, "overlayfs");
  std::vector<std::string> seen;
  REQUIRE(unpacker
              .Unpack(layers.config, plan, "",
                      [&](const LayerUnpack& layer, LayerOutcome outcome) {
                        CHECK(outcome == LayerOutcome::kUnpacked);
                        seen.push_back(layer.chain_id);
                      })
              .ok());

  std::vector<std::string> chain = ChainIds(layers.diff_ids);
  CHECK(seen == chain);
  std::vector<std::string> keys = client.SnapshotKeys("overlayfs");
  std::vector<std::string> sorted_chain = chain;
  std::sort(sorted_chain.begin(), sorted_chain.end());
  CHECK(keys == sorted_chain);  // no extract-... snapshot left behind
  for (size_t i = 0; i < chain.size(); ++i) {
    containerd::SnapshotInfo info = *client.StatSnapshot("overlayfs", chain[i]);
    CHECK(info.kind == containerd::SnapshotKind::kCommitted);
    CHECK(info.parent == (i == 0 ? "" : chain[i - 1]));
    CHECK(info.labels.at(containerd::kLabelSnapshotRef) == chain[i]);
    CHECK(client.AppliedDiffs("overlayfs", chain[i]) ==
          std::vector<std::string>{layers.diff_ids[i]});
    CHECK(client.GetContent(layers.blobs[i].digest)->labels.at(containerd::kLabelUncompressed) ==
          layers.diff_ids[i]);
  }
  CHECK(client.GetContent(layers.config.digest)
            ->labels.at("containerd.io/gc.ref.snapshot.overlayfs") == chain.back());
  CHECK(client.LeaseIds().empty());  // its own lease is gone
  CHECK(*unpacker.IsUnpacked(chain));

  SECTION("and a second unpack only looks") {
    client.ResetCallCounts();
    REQUIRE(unpacker.Unpack(layers.config, plan, "").ok());
    CHECK(client.CallCount(Method::kPrepareSnapshot) == 0);
    CHECK(client.CallCount(Method::kApplyDiff) == 0);
    CHECK(client.CallCount(Method::kStatSnapshot) == 3);
  }
}

TEST_CASE(
    "An apply failure removes the prepared snapshot, keyed extract-<nanos>-<rand> <chain id>") {
  FakeClient client;
  Layers layers = AddLayers(client, 1);
  std::vector<LayerUnpack> plan = *PlanUnpack(layers.blobs, layers.diff_ids);
  std::string lease = *client.CreateLease(std::chrono::hours(1));
  Unpacker unpacker(client, "overlayfs");

  client.FailNext(Method::kApplyDiff, InternalError("boom"));
  Result<LayerOutcome> outcome = unpacker.UnpackLayer(plan[0], lease);
  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.status().message() == "layer " + layers.blobs[0].digest + ": apply: boom");
  CHECK(client.SnapshotKeys("overlayfs").empty());
  CHECK(client.LeaseIds() == std::vector<std::string>{lease});  // the caller's lease stays

  // When the removal fails too, the key stays behind for us to look at.
  client.FailNext(Method::kApplyDiff, InternalError("boom"));
  client.FailNext(Method::kRemoveSnapshot, InternalError("keep it"));
  REQUIRE_FALSE(unpacker.UnpackLayer(plan[0], lease).ok());
  std::vector<std::string> keys = client.SnapshotKeys("overlayfs");
  REQUIRE(keys.size() == 1);
  CHECK_THAT(keys[0], Catch::Matches("extract-[0-9]+-[A-Za-z0-9_-]{4} " + plan[0].chain_id));
}

TEST_CASE("A layer whose applied diff is not its diff id is refused and its snapshot removed") {
  FakeClient client;
  Layers layers = AddLayers(client, 2);
  layers.diff_ids[1] = "sha256:" + std::string(64, '0');
  std::vector<LayerUnpack> plan = *PlanUnpack(layers.blobs, layers.diff_ids);
  Unpacker unpacker(client, "overlayfs");
  Status status = unpacker.Unpack(layers.config, plan, "");
  REQUIRE_FALSE(status.ok());
  CHECK(status.code() == StatusCode::kDataLoss);
  CHECK_THAT(status.message(), Catch::Contains("applied diff " + layers.blobs[1].digest +
                                               " does not match diff id sha256:000"));
  // Only the good base layer remains; the config was not labelled.
  CHECK(client.SnapshotKeys("overlayfs") == std::vector<std::string>{layers.diff_ids[0]});
  CHECK(client.GetContent(layers.config.digest)->labels.empty());
  CHECK(client.LeaseIds().empty());
}

TEST_CASE("A snapshot committed by a concurrent unpack counts as unpacked") {
  FakeClient client;
  Layers layers = AddLayers(client, 1);
  std::vector<LayerUnpack> plan = *PlanUnpack(layers.blobs, layers.diff_ids);
  Unpacker unpacker(client, "overlayfs");

  SECTION("at commit") {
    client.FailNext(Method::kCommitSnapshot, AlreadyExistsError("exists"));
    Result<LayerOutcome> outcome = unpacker.UnpackLayer(plan[0], "");
    REQUIRE(outcome.ok());
    CHECK(*outcome == LayerOutcome::kAlreadyUnpacked);
    CHECK(client.SnapshotKeys("overlayfs").empty());  // our extract snapshot is removed
    CHECK(client.GetContent(layers.blobs[0].digest)->labels.empty());
  }
  SECTION("at prepare, when the chain id then exists") {
    std::string base = "base-key";
    REQUIRE(client.PrepareSnapshot("overlayfs", base, "", {}, "").ok());
    REQUIRE(client.CommitSnapshot("overlayfs", plan[0].chain_id, base, {}, "").ok());
    // Stat first says not found (the other unpack had not committed yet).
    client.FailNext(Method::kStatSnapshot, NotFoundError("not yet"));
    Result<LayerOutcome> outcome = unpacker.UnpackLayer(plan[0], "");
    REQUIRE(outcome.ok());
    CHECK(*outcome == LayerOutcome::kAlreadyUnpacked);
    CHECK(client.CallCount(Method::kApplyDiff) == 0);
  }
  SECTION("prepare retries with a new key when the key alone was taken") {
    client.FailNext(Method::kPrepareSnapshot, AlreadyExistsError("key taken"));
    Result<LayerOutcome> outcome = unpacker.UnpackLayer(plan[0], "");
    REQUIRE(outcome.ok());
    CHECK(*outcome == LayerOutcome::kUnpacked);
    CHECK(client.CallCount(Method::kPrepareSnapshot) == 2);
  }
  SECTION("but gives up after three taken keys") {
    for (int i = 0; i < 3; ++i) {
      client.FailNext(Method::kPrepareSnapshot, AlreadyExistsError("key taken"));
    }
    Result<LayerOutcome> outcome = unpacker.UnpackLayer(plan[0], "");
    REQUIRE_FALSE(outcome.ok());
    CHECK_THAT(outcome.status().message(), Catch::Contains("prepare snapshot (3 attempts)"));
  }
}

TEST_CASE("Errors other than not found from Stat stop the unpack") {
  FakeClient client;
  Layers layers = AddLayers(client, 1);
  std::vector<LayerUnpack> plan = *PlanUnpack(layers.blobs, layers.diff_ids);
  Unpacker unpacker(client, "overlayfs");
  client.FailNext(Method::kStatSnapshot, UnavailableError("containerd is away"));
  Result<LayerOutcome> outcome = unpacker.UnpackLayer(plan[0], "");
  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.status().code() == StatusCode::kUnavailable);
  client.FailNext(Method::kStatSnapshot, UnavailableError("containerd is away"));
  CHECK_FALSE(unpacker.IsUnpacked(ChainIds(layers.diff_ids)).ok());
  CHECK_FALSE(*unpacker.IsUnpacked(ChainIds(layers.diff_ids)));
  CHECK(*unpacker.IsUnpacked({}));
}
