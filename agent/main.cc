// zlayer-agent: owns the node's containerd namespace and serves the zlayer.v1
// API (agent/daemon/daemon.h). Started by zlayer-init; configured by the environment.
#include "agent/daemon/daemon.h"
#include "common/config.h"
#include "common/log.h"

int main() {
  zlayer::Environment env = zlayer::CurrentEnvironment();
  zlayer::Logger log("zlayer-agent");
  auto config = zlayer::LoadNodeConfig(env);
  if (!config.ok()) {
    log.Error("{}", config.status().message());
    return 1;
  }
  log.set_level(config->log_level);
  for (const std::string& name : zlayer::UnknownZlayerVariables(env)) {
    log.Warn("unknown variable {} ignored (a typo?)", name);
  }
  zlayer::agent::daemon::Daemon daemon(*config, env, log);
  return daemon.Run();
}
