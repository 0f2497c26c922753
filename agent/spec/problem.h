// What is wrong with a spec, said so that a user finds it: `app.yaml:12:7: services.web.port: ...`.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace zlayer::spec {

struct Problem {
  std::string file;     // as given to the parser ("app.yaml", "<stdin>")
  int line = 0;         // 1-based; 0 only for a file that cannot be read at all
  int column = 0;       // 1-based; 0 together with line
  std::string path;     // field path, "services.web.health.check.type"; empty for the document
  std::string message;  // what was expected and what was found
};

// "app.yaml:12:7: services.web.health.check.type: expected one of tcp, http, command, got
// \"htp\"". The position is left out when line is 0, the path when it is empty.
std::string FormatProblem(const Problem& problem);

// OK for no problems; otherwise kInvalidArgument whose message is every formatted problem,
// one per line, for callers that pass errors on as a Status (the agent's API).
Status ProblemsToStatus(const std::vector<Problem>& problems);

}  // namespace zlayer::spec
