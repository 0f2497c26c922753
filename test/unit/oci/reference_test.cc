#include "agent/oci/reference.h"

#include <catch2/catch.hpp>

using namespace zlayer;
using namespace zlayer::oci;

namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

struct NormalisationCase {
  std::string input;
  std::string registry, repository, tag, digest;
  std::string full_name;
};

struct ErrorCase {
  std::string input;
  std::string problem;  // part of the message
};

}  // namespace

TEST_CASE("References are normalised as Docker does") {
  const std::vector<NormalisationCase> cases = {
      {"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", "",
       "docker.io/library/busybox:1.36"},
      {"user/app:1", "docker.io", "user/app", "1", "", "docker.io/user/app:1"},
      {"docker.io/busybox", "docker.io", "library/busybox", "latest", "",
       "docker.io/library/busybox:latest"},
      {"index.docker.io/library/busybox:musl", "docker.io", "library/busybox", "musl", "",
       "docker.io/library/busybox:musl"},
      {"host:5000/a/b:tag", "host:5000", "a/b", "tag", "", "host:5000/a/b:tag"},
      {"localhost/x", "localhost", "x", "latest", "", "localhost/x:latest"},
      {"localhost:5000/zlayer/busybox", "localhost:5000", "zlayer/busybox", "latest", "",
       "localhost:5000/zlayer/busybox:latest"},
      {"127.0.0.1:5000/a", "127.0.0.1:5000", "a", "latest", "", "127.0.0.1:5000/a:latest"},
      {"[::1]:5000/a:b", "[::1]:5000", "a", "b", "", "[::1]:5000/a:b"},
      {"ghcr.io/org/sub/app:v1.2-rc_3", "ghcr.io", "org/sub/app", "v1.2-rc_3", "",
       "ghcr.io/org/sub/app:v1.2-rc_3"},
      {"Registry/app", "Registry", "app", "latest", "", "Registry/app:latest"},
      {"my_org/my-app__x.y", "docker.io", "my_org/my-app__x.y", "latest", "",
       "docker.io/my_org/my-app__x.y:latest"},
      {"busybox@" + kDigest, "docker.io", "library/busybox", "", kDigest,
       "docker.io/library/busybox@" + kDigest},
      {"busybox:1@" + kDigest, "docker.io", "library/busybox", "1", kDigest,
       "docker.io/library/busybox:1@" + kDigest},
      {"localhost:5000/a@" + kDigest, "localhost:5000", "a", "", kDigest,
       "localhost:5000/a@" + kDigest},
      {"docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", "",
       "docker.io/library/busybox:latest"},
  };
  for (const NormalisationCase& c : cases) {
    CAPTURE(c.input);
    Result<Reference> ref = ParseReference(c.input);
    REQUIRE(ref.ok());
    CHECK(ref->registry == c.registry);
    CHECK(ref->repository == c.repository);
    CHECK(ref->tag == c.tag);
    CHECK(ref->digest == c.digest);
    CHECK(ref->FullName() == c.full_name);
    // Normalising a normalised name changes nothing.
    Result<Reference> again = ParseReference(ref->FullName());
    REQUIRE(again.ok());
    CHECK(*again == *ref);
  }
}

TEST_CASE("Malformed references are rejected naming the reference and the problem") {
  const std::vector<ErrorCase> cases = {
      {"", "empty"},
      {"Busybox", "must be lowercase"},
      {"docker.io/Library/busybox", "must be lowercase"},
      {"busybox:", "invalid tag"},
      {"busybox:-x", "invalid tag"},
      {"busybox:" + std::string(129, 'a'), "invalid tag"},
      {"busybox@sha256:abc", "invalid digest"},
      {"busybox@sha512:" + std::string(128, 'a'), "unsupported digest algorithm \"sha512\""},
      {"busybox@sha256:" + std::string(64, 'A'), "64 lowercase hex"},
      {std::string(64, 'f'), "image id"},
      {"a//b", "empty path component"},
      {"a/b/", "empty path component"},
      {"-bad-host.com/x", "invalid registry"},
      {"host:port/x", "invalid registry"},
      {"a/b_-c", "invalid repository path component \"b_-c\""},
      {"a/.b", "invalid repository path component"},
      {"x y", "invalid"},
      {":tag", "missing repository name"},
      {"example.com/" + std::string(250, 'a'), "longer than 255"},
  };
  for (const ErrorCase& c : cases) {
    CAPTURE(c.input);
    Result<Reference> ref = ParseReference(c.input);
    REQUIRE_FALSE(ref.ok());
    CHECK(ref.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(ref.status().message(), Catch::Contains(c.problem));
    if (!c.input.empty() && c.input.size() < 100) {
      CHECK_THAT(ref.status().message(), Catch::Contains("\"" + c.input + "\""));
    }
  }
}

TEST_CASE("The registry to contact for docker.io is registry-1.docker.io, others are as named") {
  CHECK(ParseReference("busybox")->RegistryHost() == "registry-1.docker.io");
  CHECK(ParseReference("localhost:5000/a")->RegistryHost() == "localhost:5000");
  CHECK(ParseReference("ghcr.io/a/b")->RegistryHost() == "ghcr.io");
  CHECK(ParseReference("user/app")->Name() == "docker.io/user/app");
}
