// Reading a `version: v1` deployment spec (../shared/reference/spec-v1.md) into the model
// (model.h), with every problem of the spec reported at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/spec/model.h"
#include "agent/spec/problem.h"
#include "common/config.h"

namespace zlayer::spec {

struct ParseResult {
  // Set exactly when `problems` is empty: complete, validated, defaults filled.
  std::optional<Deployment> deployment;
  // Every problem found, in document order (line, then column); each names the file, its
  // 1-based line and column and the field path. Unknown keys, keys of the ZLayer schema this
  // node does not implement ("recognised, not supported on this node yet"), wrong types,
  // bad values, references to unknown services and dependency cycles are all problems.
  std::vector<Problem> problems;

  bool ok() const { return problems.empty(); }
};

// Parses and validates `yaml_text`. `file_name` only labels problems. `env` is the
// environment that `$E:NAME` values in `env:` are taken from (the node's, on the agent);
// an unset NAME is a problem. Never throws: malformed YAML is one problem at the YAML
// error's position. Texts over kMaxSpecBytes are refused without being parsed.
ParseResult ParseSpec(std::string_view yaml_text, std::string_view file_name,
                      const Environment& env);

// Reads `path` and parses it as ParseSpec does, naming problems after `path`. A file that
// cannot be read gives one problem without a position ("cannot read: No such file ...").
ParseResult ParseSpecFile(const std::string& path, const Environment& env);

inline constexpr size_t kMaxSpecBytes = 1 << 20;

}  // namespace zlayer::spec
