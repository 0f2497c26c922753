// `zlayer-init ARGS...`: run one program (the zlayer CLI) as tini would.
#pragma once

#include <signal.h>

#include <string>
#include <vector>

#include "common/config.h"
#include "common/log.h"

namespace zlayer::init {

// Runs `program` with `argv` (argv[0] included) and `env`, stdio inherited,
// in our process group (so it keeps the terminal). Forwards every handled
// signal to it, reaps every child that exits meanwhile, and returns its exit
// code, or 128+N when signal N killed it; 126/127 when it cannot be started.
// Requires: HandledSignals() blocked in the calling thread.
int RunPassThrough(const std::string& program, const std::vector<std::string>& argv,
                   const Environment& env, const sigset_t& child_mask, Logger& log);

}  // namespace zlayer::init
