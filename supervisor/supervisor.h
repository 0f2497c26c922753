// The node supervisor: runs containerd, zlayer-agent, dnsmasq and HAProxy
// and keeps them up.
//
// Contract (README "zlayer-init" and the supervisor contract it implements):
//   - containerd starts first; the agent starts once containerd sent READY=1.
//     Either one that has not sent READY=1 within the start timeout is stopped
//     and counts as a failure.
//   - A program that exits is restarted with back-off (RestartTracker); a
//     containerd restart does not restart the agent. A program that crashes
//     after being ready is restarted forever; one that made
//     ZLAYER_RESTART_LIMIT starts in a row without READY=1: ordered shutdown,
//     exit code 1.
//   - <run dir>/children (common/supervised_children.h) is rewritten whenever
//     a program goes up (READY=1) or down (exited, backing off, starting,
//     stopping), and once before the first start.
//   - The agent gets WATCHDOG_USEC; missing WATCHDOG=1 for that long earns it
//     SIGABRT (then SIGKILL) and a restart.
//   - TERM, INT, QUIT, HUP and SIGRTMIN+3 start the ordered shutdown: agent
//     (it drains the ingress), then haproxy, then containerd (by pid only, so
//     shims are not hit), then dnsmasq, then every remaining process (TERM,
//     grace, KILL), all inside the stop timeout; exit code 0. USR1 and USR2
//     are forwarded to containerd and the agent (never to haproxy: USR2 would
//     reload it, USR1 stop it softly).
//   - dnsmasq (the containers' DNS server, supervisor/dnsmasq_command.h)
//     starts beside containerd and is up as soon as it runs (it sends no
//     READY=1). It is restarted with the same back-off, forever; its failures
//     (exits, a missing program) never shut the node down and never hold the
//     agent back. At shutdown it stops after containerd, before the sweep.
//   - haproxy (the ingress, supervisor/haproxy_command.h) starts beside
//     containerd with NOTIFY_SOCKET and is up once it sent READY=1 (the pid
//     that speaks is the master, the child started here: -Ws does not fork
//     away). RELOADING=1 (at start and at each reload the agent asks for on
//     the master CLI) is neither a failure nor a state change: it stays up,
//     same pid, and READY=1 ends the reload. Like dnsmasq it is restarted
//     with back-off forever, ready before or not, and its failures (exits, a
//     start timeout, a missing program) never shut the node down and never
//     hold the agent back. A worker's death makes the master exit: restarted.
//   - Every exited child is reaped by one waitpid(-1) loop; orphans too.
//
// Threading: Run() is single-threaded; everything happens on its event loop.
// Requires: HandledSignals() blocked in the calling thread before Run().
#pragma once

#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/log.h"

namespace zlayer::init {

// The signals zlayer-init takes through its signalfd. main blocks them first
// thing, before any other initialisation.
sigset_t HandledSignals();

struct SupervisorOptions {
  NodeConfig config;
  Environment child_environment;   // base environment of every child
  std::string containerd_program;  // resolved paths
  std::string agent_program;
  std::string cli_program;
  // dnsmasq's argv (DnsmasqArgv; argv[0] is the program). Empty: no DNS server.
  std::vector<std::string> dnsmasq_argv;
  // HAProxy's argv (HaproxyArgv; argv[0] is the program). Empty: no ingress proxy.
  std::vector<std::string> haproxy_argv;
  std::string snapshotter;                 // effective, after preflight
  std::optional<std::string> deploy_spec;  // `zlayer-init deploy --spec FILE`
  sigset_t child_signal_mask{};            // the mask zlayer-init was started with
};

class Supervisor {
 public:
  Supervisor(SupervisorOptions options, Logger& log);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Runs the node until shutdown is complete. Returns zlayer-init's exit code:
  // 0 after a requested shutdown, 1 after giving up on a program that never
  // became ready or failing to set up, 126/127 when a program cannot be started.
  int Run();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zlayer::init
