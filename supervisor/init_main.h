// zlayer-init's program logic, callable from main() and from tests.
#pragma once

#include <signal.h>

#include <string>
#include <vector>

#include "common/config.h"

namespace zlayer::init {

// Runs zlayer-init with `args` (argv without argv[0]) and `env`, and returns
// its exit code (see UsageText()). `original_mask` is the signal mask the
// process started with; children get it back.
// Requires: HandledSignals() already blocked (main does it first thing).
int InitMain(const std::vector<std::string>& args, const Environment& env,
             const sigset_t& original_mask);

}  // namespace zlayer::init
