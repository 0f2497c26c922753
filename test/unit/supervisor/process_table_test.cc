#include "supervisor/process_table.h"

#include <unistd.h>

#include <catch2/catch.hpp>

using namespace zlayer::init;

TEST_CASE("A stat line whose name holds spaces and parentheses is parsed") {
  auto info = ParseProcStat("123 (my (odd) name) S 45 123 123 0 -1 4194560 ...");
  CHECK(info.pid == 123);
  CHECK(info.name == "my (odd) name");
  CHECK(info.state == 'S');
  CHECK(info.parent == 45);
}

TEST_CASE("A stat line of another form yields pid 0") {
  CHECK(ParseProcStat("garbage").pid == 0);
}

TEST_CASE("Descendants are found through any number of generations") {
  std::vector<ProcessInfo> table = {
      {1, 0, 'S', "init"}, {10, 1, 'S', "containerd"}, {11, 10, 'S', "shim"},
      {12, 11, 'S', "app"}, {20, 1, 'S', "agent"},     {30, 0, 'S', "outside"}};
  CHECK(IsSelfOrDescendant(table, 12, 10));
  CHECK(IsSelfOrDescendant(table, 10, 10));
  CHECK_FALSE(IsSelfOrDescendant(table, 20, 10));
  CHECK_FALSE(IsSelfOrDescendant(table, 99, 10));
  auto under = Descendants(table, 10);
  REQUIRE(under.size() == 2);
  CHECK(under[0].pid == 11);
  CHECK(under[1].pid == 12);
}

TEST_CASE("A cycle in a table read while processes changed does not hang the walk") {
  std::vector<ProcessInfo> table = {{5, 6, 'S', "a"}, {6, 5, 'S', "b"}};
  CHECK_FALSE(IsSelfOrDescendant(table, 5, 1));
}

TEST_CASE("The live process table contains this test process and its parent") {
  auto table = ListProcesses();
  CHECK(IsSelfOrDescendant(table, getpid(), getppid()));
}
