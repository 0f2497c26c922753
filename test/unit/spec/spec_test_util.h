// Shared by the spec tests: where the test specs live and how to read them.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/spec/parser.h"

namespace zlayer::spec::testing {

inline std::filesystem::path SpecsDir() {
  return std::filesystem::path(ZLAYER_SOURCE_DIR) / "test" / "testdata" / "specs";
}

// The node environment the test specs' `$E:NAME` values resolve against.
inline Environment TestEnvironment() { return {{"DB_PASSWORD", "s3cret"}}; }

inline std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Parses testdata/specs/<relative>, naming problems after the file's base name.
inline ParseResult ParseTestSpec(const std::string& relative) {
  std::filesystem::path path = SpecsDir() / relative;
  return ParseSpec(ReadText(path), path.filename().string(), TestEnvironment());
}

// Parses a spec that must be valid and returns its deployment.
inline Deployment ParseValid(const std::string& relative) {
  ParseResult result = ParseTestSpec(relative);
  for (const Problem& problem : result.problems) UNSCOPED_INFO(FormatProblem(problem));
  REQUIRE(result.ok());
  REQUIRE(result.deployment.has_value());
  return *result.deployment;
}

}  // namespace zlayer::spec::testing
