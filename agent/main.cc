// zlayer-agent, placeholder until the agent core lands (issue "zlayer-agent
// core"): it tells its supervisor it is ready, keeps the watchdog fed and
// waits for SIGTERM, so zlayer-init can be run as a whole node today.
#include <signal.h>

#include <chrono>
#include <cstdio>

#include "common/config.h"
#include "common/log.h"
#include "common/sd_notify.h"

int main() {
  zlayer::Environment env = zlayer::CurrentEnvironment();
  auto config = zlayer::LoadNodeConfig(env);
  zlayer::Logger log("zlayer-agent");
  if (!config.ok()) {
    log.Error("{}", config.status().message());
    return 1;
  }
  log.set_level(config->log_level);

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);

  log.Warn("placeholder agent: the containerd client and the zlayer.v1 API are not built yet");
  if (auto s = zlayer::SdNotify(env, "READY=1\nSTATUS=placeholder agent idle"); !s.ok()) {
    log.Warn("{}", s.message());
  }
  auto interval = zlayer::SdWatchdogInterval(env);
  timespec wait{};
  if (interval) {
    auto half = *interval / 2;
    wait.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(half).count();
    wait.tv_nsec = (half % std::chrono::seconds(1)).count() * 1000;
  } else {
    wait.tv_sec = 3600;
  }
  for (;;) {
    int sig = sigtimedwait(&stop, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (interval) (void)zlayer::SdNotify(env, "WATCHDOG=1");
  }
  (void)zlayer::SdNotify(env, "STOPPING=1");
  log.Info("stopping");
  return 0;
}
