// The agent's real Prober: tcp and http checks on the loop (NetworkProber),
// command checks inside the container (CommandProber: containerd Exec on the
// worker pool, see agent/exec/exec_capture.h).
//
// Thread safety: as Prober (loop thread only).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>

#include "agent/containerd/client.h"
#include "agent/health/network_prober.h"
#include "agent/health/prober.h"
#include "common/log.h"

namespace zlayer::agent::health {

// Runs a command check's argv inside ProbeTarget::container_id. Healthy when
// it exits 0; its output (stdout and stderr, cut at kMaxCheckOutput) and exit
// code go into the result. At the timeout the process is killed (SIGKILL)
// and the check fails. FIFOs go under `<state_dir>/<container id>/`.
class CommandProber : public Prober {
 public:
  // Everything passed must outlive the prober and every probe in flight.
  CommandProber(boost::asio::io_context& loop, containerd::Client& client,
                boost::asio::thread_pool& pool, std::string state_dir, Logger& log);

  void Probe(const ProbeTarget& target, const spec::HealthCheck& check,
             std::chrono::nanoseconds timeout, std::function<void(CheckResult)> done) override;

 private:
  boost::asio::io_context& loop_;
  containerd::Client& client_;
  boost::asio::thread_pool& pool_;
  std::string state_dir_;
  Logger& log_;
};

// Dispatches by check type: tcp/http to a NetworkProber, command to a
// CommandProber.
class CompositeProber : public Prober {
 public:
  CompositeProber(std::unique_ptr<Prober> network, std::unique_ptr<Prober> command)
      : network_(std::move(network)), command_(std::move(command)) {}

  void Probe(const ProbeTarget& target, const spec::HealthCheck& check,
             std::chrono::nanoseconds timeout, std::function<void(CheckResult)> done) override;

 private:
  std::unique_ptr<Prober> network_;
  std::unique_ptr<Prober> command_;
};

// The prober the agent gives its HealthMonitor. `state_dir` is the node's
// ZLAYER_STATE_DIR (container FIFO directories live under it).
std::unique_ptr<Prober> NewProber(boost::asio::io_context& loop, containerd::Client& client,
                                  boost::asio::thread_pool& pool, const std::string& state_dir,
                                  Logger& log);

}  // namespace zlayer::agent::health
