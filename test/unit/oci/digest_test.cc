#include "agent/oci/digest.h"

#include <catch2/catch.hpp>

using namespace zlayer::oci;

TEST_CASE("SHA-256 digests match the published test vectors") {
  CHECK(Sha256Digest("") ==
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Digest("abc") ==
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("An incremental SHA-256 gives the digest of everything it was fed") {
  Sha256 hash;
  hash.Update("a", 1);
  hash.Update("bc", 2);
  CHECK(hash.Finish() == Sha256Digest("abc"));
}

TEST_CASE("Only sha256 digests of 64 lowercase hex digits are accepted") {
  CHECK(IsSha256Digest(Sha256Digest("x")));
  CHECK_FALSE(IsSha256Digest("sha256:" + std::string(63, 'a')));
  CHECK_FALSE(IsSha256Digest("sha256:" + std::string(64, 'A')));
  CHECK_FALSE(IsSha256Digest("sha512:" + std::string(64, 'a')));
  CHECK_FALSE(IsSha256Digest(std::string(71, 'a')));
}
