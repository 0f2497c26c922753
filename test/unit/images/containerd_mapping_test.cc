#include "agent/images/containerd_mapping.h"

#include <catch2/catch.hpp>

using namespace zlayer;
using namespace zlayer::images;

namespace {

std::string Digest(char c) { return "sha256:" + std::string(64, c); }

oci::Descriptor Blob(char c) { return {"application/x", Digest(c), 1, {}, std::nullopt}; }

}  // namespace

TEST_CASE("Descriptors cross to containerd and back unchanged, except for the platform") {
  oci::Descriptor d{
      "application/x", Digest('1'), 42, {{"k", "v"}}, oci::Platform{"linux", "arm64", ""}};
  containerd::Descriptor c = ToContainerd(d);
  CHECK(c.media_type == d.media_type);
  CHECK(c.digest == d.digest);
  CHECK(c.size == 42);
  CHECK(c.annotations == d.annotations);
  oci::Descriptor back = ToOci(c);
  CHECK_FALSE(back.platform.has_value());
  back.platform = d.platform;
  CHECK(back == d);
}

TEST_CASE("A parent blob's GC labels name its children in document order") {
  oci::Index index{"", {Blob('1'), Blob('2')}};
  CHECK(ChildGcLabels(index) ==
        containerd::Labels{{"containerd.io/gc.ref.content.m.0", Digest('1')},
                           {"containerd.io/gc.ref.content.m.1", Digest('2')}});
  oci::Manifest manifest{"", Blob('c'), {Blob('a'), Blob('b')}};
  CHECK(ChildGcLabels(manifest) ==
        containerd::Labels{{"containerd.io/gc.ref.content.config", Digest('c')},
                           {"containerd.io/gc.ref.content.l.0", Digest('a')},
                           {"containerd.io/gc.ref.content.l.1", Digest('b')}});
}
