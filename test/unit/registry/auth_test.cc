#include "agent/registry/auth.h"

#include <catch2/catch.hpp>

using namespace zlayer;
using namespace zlayer::registry;

TEST_CASE("A Bearer challenge is parsed into realm, service and scope") {
  auto challenges = ParseChallenges(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull")");
  REQUIRE(challenges.size() == 1);
  CHECK(challenges[0].scheme == "bearer");
  CHECK(challenges[0].params.at("realm") == "https://auth.docker.io/token");
  CHECK(challenges[0].params.at("service") == "registry.docker.io");
  CHECK(challenges[0].params.at("scope") == "repository:library/nginx:pull");
}

TEST_CASE("Several challenges, quoted commas and escapes are kept apart") {
  auto challenges = ParseChallenges(
      R"(Basic realm="a, \"b\"", Bearer realm="https://x/t",error="invalid_token")");
  REQUIRE(challenges.size() == 2);
  CHECK(challenges[0].scheme == "basic");
  CHECK(challenges[0].params.at("realm") == "a, \"b\"");
  CHECK(challenges[1].scheme == "bearer");
  CHECK(challenges[1].params.at("error") == "invalid_token");
}

TEST_CASE("config.json credentials are found by registry host, docker.io by any of its names") {
  auto creds = Credentials::Parse(R"({"auths": {
      "https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
      "127.0.0.1:5000": {"auth": "emw6czNjcjp3aXRoOmNvbG9u"},
      "http://other.test:8080/v2/": {"username": "u", "password": "p"},
      "helper.test": {"identitytoken": "x"}}})",
                                  "config.json");
  REQUIRE(creds.ok());
  REQUIRE(creds->Lookup("docker.io"));
  CHECK(creds->Lookup("docker.io")->username == "user");
  CHECK(creds->Lookup("registry-1.docker.io")->password == "pass");
  CHECK(creds->Lookup("127.0.0.1:5000")->password == "s3cr:with:colon");
  CHECK(creds->Lookup("other.test:8080")->username == "u");
  CHECK_FALSE(creds->Lookup("helper.test"));
  CHECK_FALSE(creds->Lookup("127.0.0.1:5001"));
}

TEST_CASE("A malformed config.json is an error naming the file and the entry") {
  CHECK(Credentials::Parse("{nope", "/x/config.json").status().message().find("/x/config.json") !=
        std::string::npos);
  auto bad = Credentials::Parse(R"({"auths": {"h": {"auth": "bm9jb2xvbg=="}}})", "c.json");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find("auths.h.auth") != std::string::npos);
}

TEST_CASE("Missing config files are skipped") {
  auto creds = Credentials::Load({"/nonexistent/a.json", ""});
  REQUIRE(creds.ok());
  CHECK_FALSE(creds->Lookup("docker.io"));
}

TEST_CASE("base64 round-trips, padding included") {
  for (std::string text : {"", "a", "ab", "abc", "user:password"}) {
    auto decoded = Base64Decode(Base64Encode(text));
    REQUIRE(decoded.ok());
    CHECK(*decoded == text);
  }
  CHECK_FALSE(Base64Decode("abc").ok());
}

TEST_CASE("A token response gives token or access_token and expires_in (default 60 s)") {
  auto a = ParseTokenResponse(R"({"token":"t1","expires_in":300})");
  REQUIRE(a.ok());
  CHECK(a->token == "t1");
  CHECK(a->expires_in == std::chrono::seconds(300));
  auto b = ParseTokenResponse(R"({"access_token":"t2"})");
  REQUIRE(b.ok());
  CHECK(b->token == "t2");
  CHECK(b->expires_in == std::chrono::seconds(60));
  CHECK_FALSE(ParseTokenResponse(R"({"expires_in":3})").ok());
}
