#include "agent/spec/problem.h"

#include <fmt/format.h>

namespace zlayer::spec {

std::string FormatProblem(const Problem& problem) {
  std::string out = problem.file;
  if (problem.line > 0) out += fmt::format(":{}:{}", problem.line, problem.column);
  out += ": ";
  if (!problem.path.empty()) out += problem.path + ": ";
  return out + problem.message;
}

Status ProblemsToStatus(const std::vector<Problem>& problems) {
  if (problems.empty()) return Status::Ok();
  std::string message;
  for (const Problem& problem : problems) {
    if (!message.empty()) message += '\n';
    message += FormatProblem(problem);
  }
  return InvalidArgumentError(std::move(message));
}

}  // namespace zlayer::spec
