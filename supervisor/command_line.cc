#include "supervisor/command_line.h"

namespace zlayer::init {

Result<Command> ParseCommandLine(const std::vector<std::string>& args) {
  Command command;
  if (args.empty() || args[0] == "serve") {
    if (args.size() > 1) return InvalidArgumentError("serve: unexpected argument " + args[1]);
    return command;
  }
  const std::string& verb = args[0];
  if (verb == "--help" || verb == "-h" || verb == "help") {
    command.kind = Command::Kind::kHelp;
    return command;
  }
  if (verb == "deploy") {
    command.kind = Command::Kind::kDeploy;
    for (size_t i = 1; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a == "--spec" && i + 1 < args.size()) {
        command.spec_file = args[++i];
      } else if (a.rfind("--spec=", 0) == 0) {
        command.spec_file = a.substr(7);
      } else if (a[0] != '-' && command.spec_file.empty()) {
        command.spec_file = a;  // `deploy FILE`, as the CLI accepts it
      } else {
        return InvalidArgumentError("deploy: unexpected argument " + a);
      }
    }
    if (command.spec_file.empty()) return InvalidArgumentError("deploy: --spec FILE is required");
    return command;
  }
  if (verb == "join") {
    command.kind = Command::Kind::kJoin;
    return command;
  }
  command.kind = Command::Kind::kPassThrough;
  command.arguments = args;
  return command;
}

std::string UsageText() {
  return R"(usage: zlayer-init [serve]
       zlayer-init deploy --spec FILE
       zlayer-init join --api URL [--token T]
       zlayer-init ARGS...

zlayer-init is the first process of a zlayer node (PID 1 of the node container).

  serve               Run the node: check the host, start containerd, wait for it to
                      report ready, start zlayer-agent, keep both running (restarts
                      with back-off), reap orphans, and on SIGTERM/SIGINT/SIGQUIT/
                      SIGHUP/SIGRTMIN+3 stop the agent, then containerd, then every
                      remaining process, within ZLAYER_STOP_TIMEOUT (default 9s).
  deploy --spec FILE  Run the node as `serve` does and, once the agent is ready,
                      deploy FILE with `zlayer deploy --spec FILE`. The node keeps
                      running afterwards.
  join --api URL      Join a cluster. Not supported yet.
  ARGS...             Anything else runs `zlayer ARGS...` once and exits with its
                      exit code (e.g. `zlayer-init version`).

Exit codes: 0 after a clean shutdown; 1 when containerd or the agent never became
ready in ZLAYER_RESTART_LIMIT starts in a row, or the node cannot start;
2 for usage errors; 126/127 when a program to start is not executable / missing.

Configuration comes from the environment; see the README's table (ZLAYER_*,
CONTAINERD_SOCKET). Set ZLAYER_LOG_LEVEL=debug for more detail.
)";
}

}  // namespace zlayer::init
