// The `zlayer` program as a function, so that main.cc only wires the process to it.
#pragma once

#include <string>
#include <vector>

#include "cmd/zlayer/commands.h"
#include "common/config.h"

namespace zlayer::cli {

// Runs `zlayer ARGS...` (argv without argv[0]) and returns the exit code: 0 success,
// 1 failure, 2 usage error, or what the command defines (health, deploy --wait, exec).
// Help goes to io.out; errors to io.err as one line `zlayer: <what went wrong>`, usage
// errors followed by the command's synopsis.
int Run(const std::vector<std::string>& args, const Environment& env, Io& io);

}  // namespace zlayer::cli
