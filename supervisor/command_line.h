// What zlayer-init was asked to do, from its arguments.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace zlayer::init {

struct Command {
  enum class Kind {
    kServe,        // run the node (default)
    kDeploy,       // run the node, then deploy `spec_file` once the agent is ready
    kJoin,         // reserved for multi-node; answered "not supported yet"
    kHelp,         // print usage
    kPassThrough,  // run `zlayer ARGS...` once and exit with its code
  };
  Kind kind = Kind::kServe;
  std::string spec_file;               // kDeploy
  std::vector<std::string> arguments;  // kPassThrough: the CLI's arguments
};

// Parses argv[1..]. Errors (kInvalidArgument) are usage errors, e.g.
// "deploy: --spec FILE is required".
Result<Command> ParseCommandLine(const std::vector<std::string>& args);

// The text `zlayer-init --help` prints.
std::string UsageText();

}  // namespace zlayer::init
