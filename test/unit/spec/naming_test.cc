#include "agent/spec/naming.h"

#include <catch2/catch.hpp>
#include <string>

namespace zlayer::spec {
namespace {

TEST_CASE("A container id is deployment, service and replica index joined by dashes") {
  CHECK(ContainerId("hello", "web", 0) == "hello-web-0");
  CHECK(ContainerId("shop", "api-v2", 12) == "shop-api-v2-12");
}

TEST_CASE("Container ids follow containerd's identifier rule and length limit") {
  struct Case {
    std::string id;
    bool valid;
  };
  const Case cases[] = {
      {"hello-web-0", true},
      {"a.b_c-d", true},
      {"A1", true},
      {std::string(76, 'a'), true},
      {std::string(77, 'a'), false},
      {"", false},
      {"-web-0", false},
      {"web-0-", false},
      {"web--0", false},
      {"web-.0", false},
      {"web/0", false},
      {"wéb-0", false},
  };
  for (const Case& c : cases) {
    INFO(c.id);
    Status status = ValidateContainerId(c.id);
    CHECK(status.ok() == c.valid);
    if (!c.valid) CHECK(status.code() == StatusCode::kInvalidArgument);
  }
  CHECK_THAT(ValidateContainerId(std::string(77, 'a')).message(),
             Catch::Contains("has 77 characters; containerd allows at most 76"));
}

TEST_CASE("Deployment and service names are lower case letters, digits and dashes, 1 to 63") {
  for (const char* name : {"web", "a", "0", "api-v2", "9lives", "web-"}) {
    INFO(name);
    CHECK(IsValidName(name));
  }
  CHECK(IsValidName(std::string(63, 'a')));
  CHECK_FALSE(IsValidName(std::string(64, 'a')));
  for (const char* name : {"", "-web", "Web", "web_1", "web.1", "wéb", "web 1"}) {
    INFO(name);
    CHECK_FALSE(IsValidName(name));
  }
}

TEST_CASE("Host names are RFC 1123 labels within Linux's 64 characters") {
  for (const std::string& name :
       {std::string("web"), std::string("api.internal"), std::string("a-1.B-2"),
        std::string(63, 'a'), std::string(31, 'a') + "." + std::string(32, 'b')}) {
    INFO(name);
    CHECK(IsValidHostname(name));
  }
  for (const std::string& name :
       {std::string(""), std::string("-web"), std::string("web-"), std::string("a..b"),
        std::string(".web"), std::string("web_1"), std::string(64, 'a'),
        std::string(32, 'a') + "." + std::string(32, 'b')}) {
    INFO(name);
    CHECK_FALSE(IsValidHostname(name));
  }
}

TEST_CASE("Image references are checked the way Docker and containerd parse them") {
  const std::string digest = "sha256:" + std::string(64, 'a');
  for (const std::string& reference :
       {std::string("nginx"), std::string("nginx:1.25"), std::string("library/nginx:latest"),
        std::string("docker.io/library/nginx"), std::string("127.0.0.1:5000/busybox:latest"),
        std::string("localhost/app"), std::string("localhost:5000/team/app:v1.2-rc_3"),
        std::string("ghcr.io/org/app@") + digest, std::string("app:v1@") + digest,
        std::string("Registry.Example.com/app"), std::string("[::1]:5000/app"),
        std::string("my_app__x/a.b-c---d")}) {
    INFO(reference);
    CHECK(IsValidImageReference(reference));
  }
  for (const std::string& reference :
       {std::string(""), std::string("Nginx"), std::string("library/Nginx"), std::string("nginx:"),
        std::string("nginx:lat est"), std::string("nginx:-tag"), std::string("nginx@sha256:abc"),
        std::string("nginx@") + digest + "0", std::string("/nginx"), std::string("nginx/"),
        std::string("a//b"), std::string("-nginx"), std::string("nginx_"),
        std::string("host:port/app"), std::string("a" + std::string(300, 'b'))}) {
    INFO(reference);
    CHECK_FALSE(IsValidImageReference(reference));
  }
}

TEST_CASE("An image reference built to make a backtracking matcher hang is judged at once") {
  // (a+)* style patterns explode on a long run followed by a mismatch.
  std::string reference = std::string(200, 'a') + "!";
  CHECK_FALSE(IsValidImageReference(reference));
}

}  // namespace
}  // namespace zlayer::spec
