// Local validation of a spec file before it is sent (`deploy`) or instead of sending it
// (`validate`), with the same library the agent uses.
#pragma once

#include <string>
#include <string_view>

#include "agent/spec/parser.h"
#include "common/config.h"

namespace zlayer::cli {

// The environment for local validation: every `$E:NAME` that `yaml_text` mentions,
// set to "". `$E:` values are resolved from the NODE's environment by the agent, so the
// client's own environment must neither satisfy nor fail them.
Environment PlaceholderEnvironment(std::string_view yaml_text);

struct CheckedSpec {
  std::string text;          // the file's bytes (what `deploy` sends)
  spec::ParseResult result;  // problems name `path`
};

// Reads `path` and validates it as the agent will, except for `$E:` resolution (see
// above). An unreadable file is one problem without a position ("cannot read: ..."),
// as spec::ParseSpecFile reports it.
CheckedSpec CheckSpecFile(const std::string& path);

}  // namespace zlayer::cli
