// The spec files under test/testdata/specs are the cases: every valid/*.yaml must parse
// without a problem, every invalid/*.yaml must give exactly the problems its "# expect:"
// lines state, in order. The first line of each file says in a sentence what it shows.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/spec/parser.h"
#include "spec_test_util.h"

namespace zlayer::spec {
namespace {

namespace fs = std::filesystem;
using testing::ReadText;
using testing::SpecsDir;
using testing::TestEnvironment;

struct SpecCase {
  fs::path path;
  std::string text;
  std::string sentence;               // the first line, without "# "
  std::vector<std::string> expected;  // the "# expect: " lines, without the prefix
};

std::vector<SpecCase> Cases(const std::string& folder) {
  std::vector<fs::path> paths;
  for (const fs::directory_entry& entry : fs::directory_iterator(SpecsDir() / folder)) {
    if (entry.path().extension() == ".yaml") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<SpecCase> cases;
  for (const fs::path& path : paths) {
    SpecCase c{path, ReadText(path), {}, {}};
    std::istringstream lines(c.text);
    std::string line;
    while (std::getline(lines, line)) {
      if (c.sentence.empty() && line.starts_with("# ")) c.sentence = line.substr(2);
      if (line.starts_with("# expect: ")) c.expected.push_back(line.substr(10));
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<std::string> FormattedProblems(const SpecCase& c) {
  ParseResult result = ParseSpec(c.text, c.path.filename().string(), TestEnvironment());
  std::vector<std::string> lines;
  for (const Problem& problem : result.problems) lines.push_back(FormatProblem(problem));
  CHECK(result.deployment.has_value() == result.problems.empty());
  return lines;
}

TEST_CASE("Every spec under testdata/specs/valid parses without a problem") {
  std::vector<SpecCase> cases = Cases("valid");
  REQUIRE(cases.size() >= 8);
  for (const SpecCase& c : cases) {
    INFO(c.path.filename().string() << ": " << c.sentence);
    CHECK_FALSE(c.sentence.empty());
    CHECK(FormattedProblems(c) == std::vector<std::string>{});
  }
}

TEST_CASE("Every spec under testdata/specs/invalid gives exactly the problems it expects") {
  std::vector<SpecCase> cases = Cases("invalid");
  REQUIRE(cases.size() >= 30);
  for (const SpecCase& c : cases) {
    INFO(c.path.filename().string() << ": " << c.sentence);
    CHECK_FALSE(c.sentence.empty());
    REQUIRE_FALSE(c.expected.empty());  // an invalid case states its problems
    CHECK(FormattedProblems(c) == c.expected);
  }
}

TEST_CASE("Problems are named after the file the spec was read from") {
  fs::path path = SpecsDir() / "invalid" / "version_not_v1.yaml";
  ParseResult result = ParseSpecFile(path.string(), TestEnvironment());
  REQUIRE(result.problems.size() == 1);
  CHECK(FormatProblem(result.problems[0]) ==
        path.string() + ":2:10: version: expected \"v1\", got \"v2\"");
}

}  // namespace
}  // namespace zlayer::spec
