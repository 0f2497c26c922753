// How zlayer-init runs HAProxy, the node's ingress on the spec's public ports
// (issue 13; agent/ingress/ renders its configuration and drives it).
//
// HAProxy runs in master-worker mode with systemd-style readiness (-Ws): the
// master stays in the foreground (it is the child zlayer-init started, so
// MAINPID names that same pid), forks the worker and sends RELOADING=1, then
// READY=1 once the worker runs (about 80 ms after start). On a reload (the
// agent sends `reload` on the master CLI) the master re-executes itself under
// the same pid and sends RELOADING=1 again, then READY=1: a reload is neither
// an exit nor a failure. When the worker dies, the master exits with its code
// and zlayer-init starts a new one. SIGTERM to the master stops it, exit 0.
//
// Files (IngressPathsFor(config), all under <run_dir>/ingress):
//   config_file    written here once, listener-less, when absent (so HAProxy
//                  can start before the agent); afterwards the agent owns it,
//                  rewrites it and reloads. zlayer-init never overwrites it.
//   admin_socket   the runtime API (stats socket, level admin, expose-fd
//                  listeners so that a reloaded worker takes the listening sockets)
//   master_socket  the master CLI (-S): reload, show proc
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace zlayer::init {

// HAProxy's argv, argv[0] = program (pure):
//   -Ws                       master-worker, READY=1 / RELOADING=1 on NOTIFY_SOCKET
//   -f CONFIG_FILE            only the node's configuration (never /etc/haproxy)
//   -S MASTER_SOCKET,mode,600 the master CLI, for root only
std::vector<std::string> HaproxyArgv(const std::string& program, const IngressPaths& paths);

// The configuration zlayer-init writes when config_file does not exist (pure):
// the runtime API on admin_socket, `hard-stop-after 30s` (old workers of a
// reload never linger longer), defaults with timeouts, and no listener.
std::string HaproxyBootstrapConfig(const IngressPaths& paths);

// Creates config_file with HaproxyBootstrapConfig(paths) unless it exists:
// written to a temporary file, then linked into place, so an existing file
// (the agent's) is never replaced, not even by a race. Returns true when it
// wrote the file, false when one was there.
Result<bool> WriteHaproxyBootstrapConfigIfAbsent(const IngressPaths& paths);

}  // namespace zlayer::init
