// Every problem of a spec names where it is. The valid specs under testdata/specs/valid are
// mutated in many deterministic ways (characters deleted, doubled, inserted, the text cut,
// values replaced by other types or by huge ones) and every problem of every mutant must
// carry a line and a column.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/spec/parser.h"
#include "spec_test_util.h"

namespace zlayer::spec {
namespace {

namespace fs = std::filesystem;

// A small deterministic generator (64-bit LCG): the same mutants on every run.
class Lcg {
 public:
  explicit Lcg(uint64_t seed) : state_(seed) {}
  size_t Below(size_t n) {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>((state_ >> 33) % n);
  }

 private:
  uint64_t state_;
};

// Characters that mean something to YAML, and some that mean nothing.
constexpr std::string_view kInserts = "\"'`:{}[],&*!|>#-?%@\t\n \\x0";
// Values of every other type, empty, huge or hostile, for "key: <value>" lines.
const std::vector<std::string>& Replacements() {
  static const std::vector<std::string> values = {
      "",
      "\"\"",
      "[]",
      "{}",
      "[1, 2]",
      "{a: b}",
      "-1",
      "0",
      "99999999999999999999",
      "1.5",
      "\"8080\"",
      "true",
      "yes",
      "null",
      "~",
      "*nope",
      "&a x",
      "!!binary AAAA",
      "'it''s'",
      "\"a\\\"b\"",
      "\"k\\\"ey\": v",
      std::string(140000, 'y'),
  };
  return values;
}

// One mutant of `text`, chosen by `random`, with what was done to it.
std::pair<std::string, std::string> Mutate(const std::string& text, Lcg& random) {
  size_t at = random.Below(text.size());
  switch (random.Below(7)) {
    case 0:
      return {text.substr(0, at) + text.substr(at + 1), "delete byte " + std::to_string(at)};
    case 1:
      return {text.substr(0, at) + text[at] + text.substr(at), "double byte " + std::to_string(at)};
    case 2: {
      char c = kInserts[random.Below(kInserts.size())];
      return {text.substr(0, at) + c + text.substr(at),
              "insert " + std::string(1, c) + " at " + std::to_string(at)};
    }
    case 3:
      return {text.substr(0, at), "cut at " + std::to_string(at)};
    case 4: {
      // Quote part of a key: `na"me: x`.
      size_t colon = text.find(':', at);
      if (colon == std::string::npos || colon == 0) return {text, "unchanged"};
      return {text.substr(0, colon - 1) + "\"" + text.substr(colon - 1),
              "quote in key before " + std::to_string(colon)};
    }
    case 5: {
      // Replace the value after a "key: " with another.
      size_t colon = text.find(": ", at);
      if (colon == std::string::npos) return {text, "unchanged"};
      size_t end = text.find('\n', colon);
      if (end == std::string::npos) end = text.size();
      const std::string& value = Replacements()[random.Below(Replacements().size())];
      return {text.substr(0, colon + 2) + value + text.substr(end),
              "value at " + std::to_string(colon) + " := " + value.substr(0, 20)};
    }
    default: {
      // Duplicate a whole line (duplicate keys, wrong indentation).
      size_t start = text.rfind('\n', at);
      start = start == std::string::npos ? 0 : start + 1;
      size_t end = text.find('\n', at);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(start, end - start) + "\n";
      return {text.substr(0, start) + line + text.substr(start),
              "double line at " + std::to_string(start)};
    }
  }
}

TEST_CASE("Every problem of a mutated spec names its file:line:column") {
  std::vector<fs::path> paths;
  for (const fs::directory_entry& entry : fs::directory_iterator(testing::SpecsDir() / "valid")) {
    if (entry.path().extension() == ".yaml") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  REQUIRE(paths.size() >= 8);

  std::vector<std::string> texts;
  for (const fs::path& path : paths) texts.push_back(testing::ReadText(path));
  // Whole-file mutants: empty, only a comment, too large, binary.
  std::vector<std::pair<std::string, std::string>> mutants = {
      {"", "empty"},
      {"# nothing\n", "only a comment"},
      {texts[0] + "# " + std::string(kMaxSpecBytes, 'x') + "\n", "over the size limit"},
      {std::string("\xff\xfe\x00\x01", 4), "binary"},
      {"---\n...\n", "empty document"},
  };
  Lcg random(20261203);
  for (size_t i = 0; i < texts.size(); ++i) {
    for (int n = 0; n < 400; ++n) {
      auto [text, what] = Mutate(texts[i], random);
      mutants.emplace_back(std::move(text), paths[i].filename().string() + ": " + what);
    }
  }

  size_t refused = 0;
  std::vector<std::string> without_position;
  for (const auto& [text, what] : mutants) {
    ParseResult result = ParseSpec(text, "m.yaml", testing::TestEnvironment());
    if (!result.ok()) ++refused;
    for (const Problem& problem : result.problems) {
      if (problem.line <= 0 || problem.column <= 0) {
        without_position.push_back(what + " -> " + FormatProblem(problem));
      }
    }
  }
  CHECK(refused > mutants.size() / 3);  // the mutations do break specs
  std::string first;
  for (size_t i = 0; i < std::min<size_t>(without_position.size(), 20); ++i) {
    first += without_position[i] + "\n";
  }
  INFO(without_position.size() << " problems without a position, the first:\n" << first);
  CHECK(without_position.empty());
}

}  // namespace
}  // namespace zlayer::spec
