// zlayer, placeholder until the agent API lands: answers `version` and
// `--help`, and says clearly that every other command needs the agent.
#include <cstdio>
#include <string>

#include "common/version.h"

int main(int argc, char** argv) {
  std::string command = argc > 1 ? argv[1] : "--help";
  if (command == "version" || command == "--version") {
    std::printf("zlayer %s\n", zlayer::kVersion);
    return 0;
  }
  if (command == "--help" || command == "-h" || command == "help") {
    std::printf(
        "usage: zlayer COMMAND\n\n"
        "  version    print the version\n\n"
        "The agent API (deploy, ps, logs, ...) is not built yet.\n");
    return 0;
  }
  std::fprintf(stderr, "zlayer: '%s' needs the agent API, which is not built yet\n",
               command.c_str());
  return 1;
}
