#include "common/supervised_children.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

using zlayer::ParseSupervisedChildren;
using zlayer::SupervisedChild;

TEST_CASE("Supervised children written by zlayer-init read back unchanged") {
  std::vector<SupervisedChild> children = {{"containerd", true, "running since 12:00:01"},
                                           {"zlayer-agent", false, "restart 3 in 400ms"}};
  auto parsed = ParseSupervisedChildren(zlayer::FormatSupervisedChildren(children));
  REQUIRE(parsed.ok());
  CHECK(*parsed == children);
}

TEST_CASE("Tabs and newlines in a detail cannot break the file's lines") {
  std::vector<SupervisedChild> children = {{"agent", false, "exit\t1\nagain"}};
  auto parsed = ParseSupervisedChildren(zlayer::FormatSupervisedChildren(children));
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 1);
  CHECK((*parsed)[0].detail == "exit 1 again");
}

TEST_CASE("A malformed line is refused with its line number") {
  auto missing = ParseSupervisedChildren("containerd\tup\t\nagent up\n");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find("line 2") != std::string::npos);
  auto bad_state = ParseSupervisedChildren("agent\tsleeping\tx\n");
  REQUIRE_FALSE(bad_state.ok());
  CHECK(bad_state.status().message().find("sleeping") != std::string::npos);
}

TEST_CASE("The file is written atomically and read back; a missing file is NotFound") {
  char pattern[] = "/tmp/zl-children-XXXXXX";
  REQUIRE(mkdtemp(pattern) != nullptr);
  const std::string dir = pattern;
  auto missing = zlayer::ReadSupervisedChildren(dir);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == zlayer::StatusCode::kNotFound);
  REQUIRE(zlayer::WriteSupervisedChildren(dir, {{"containerd", true, ""}}).ok());
  auto read = zlayer::ReadSupervisedChildren(dir);
  REQUIRE(read.ok());
  CHECK(*read == std::vector<SupervisedChild>{{"containerd", true, ""}});
  CHECK_FALSE(std::filesystem::exists(dir + "/children.tmp"));
  std::filesystem::remove_all(dir);
}
