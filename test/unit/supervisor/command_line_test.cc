#include "supervisor/command_line.h"

#include <catch2/catch.hpp>

using zlayer::init::Command;
using zlayer::init::ParseCommandLine;

TEST_CASE("No arguments and `serve` both run the node") {
  CHECK(ParseCommandLine({})->kind == Command::Kind::kServe);
  CHECK(ParseCommandLine({"serve"})->kind == Command::Kind::kServe);
}

TEST_CASE("`deploy --spec FILE` runs the node and remembers the spec") {
  for (auto args : {std::vector<std::string>{"deploy", "--spec", "/s.yaml"},
                    std::vector<std::string>{"deploy", "--spec=/s.yaml"},
                    std::vector<std::string>{"deploy", "/s.yaml"}}) {
    auto c = ParseCommandLine(args);
    REQUIRE(c.ok());
    CHECK(c->kind == Command::Kind::kDeploy);
    CHECK(c->spec_file == "/s.yaml");
  }
}

TEST_CASE("`deploy` without a spec is a usage error that says what is missing") {
  auto c = ParseCommandLine({"deploy"});
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.status().message(), Catch::Contains("--spec FILE is required"));
}

TEST_CASE("Anything else is passed through to the zlayer CLI unchanged") {
  auto c = ParseCommandLine({"ps", "-o", "json"});
  REQUIRE(c.ok());
  CHECK(c->kind == Command::Kind::kPassThrough);
  CHECK(c->arguments == std::vector<std::string>{"ps", "-o", "json"});
}

TEST_CASE("`join` is recognised (and answered as unsupported by the caller)") {
  CHECK(ParseCommandLine({"join", "--api", "https://x"})->kind == Command::Kind::kJoin);
}

TEST_CASE("`serve` takes no further arguments") {
  CHECK_FALSE(ParseCommandLine({"serve", "extra"}).ok());
}
