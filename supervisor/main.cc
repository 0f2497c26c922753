// zlayer-init: PID 1 of a zlayer node. See supervisor/README.md.
#include <signal.h>

#include <string>
#include <vector>

#include "common/config.h"
#include "supervisor/init_main.h"
#include "supervisor/supervisor.h"

int main(int argc, char** argv) {
  // Signals first: from here on, every handled signal waits in the signalfd.
  sigset_t handled = zlayer::init::HandledSignals();
  sigset_t original;
  sigprocmask(SIG_BLOCK, &handled, &original);
  // A relay write to a closed pipe must fail with EPIPE, not kill PID 1.
  // Children get default dispositions back (posix_spawn SETSIGDEF).
  signal(SIGPIPE, SIG_IGN);

  std::vector<std::string> args(argv + 1, argv + argc);
  return zlayer::init::InitMain(args, zlayer::CurrentEnvironment(), original);
}
