// zlayer: the command-line client of zlayer-agent. All logic is in zlayer_cli (cli.h).
#include <string>
#include <vector>

#include "cmd/zlayer/cli.h"
#include "common/config.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  zlayer::cli::Io io = zlayer::cli::Io::Standard();
  return zlayer::cli::Run(args, zlayer::CurrentEnvironment(), io);
}
