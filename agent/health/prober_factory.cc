#include "agent/health/prober_factory.h"

#include <fmt/format.h>

#include "agent/exec/exec_capture.h"

namespace zlayer::agent::health {

CommandProber::CommandProber(boost::asio::io_context& loop, containerd::Client& client,
                             boost::asio::thread_pool& pool, std::string state_dir, Logger& log)
    : loop_(loop), client_(client), pool_(pool), state_dir_(std::move(state_dir)), log_(log) {}

void CommandProber::Probe(const ProbeTarget& target, const spec::HealthCheck& check,
                          std::chrono::nanoseconds timeout, std::function<void(CheckResult)> done) {
  exec::ExecContext context{loop_, pool_, client_, client_, &log_};
  exec::CaptureOptions options;
  options.timeout = timeout;
  options.max_output = kMaxCheckOutput;
  exec::RunCaptured(context, fmt::format("{}/{}", state_dir_, target.container_id),
                    target.container_id, check.command, options,
                    [done = std::move(done), timeout](Result<exec::CaptureResult> captured) {
                      CheckResult result;
                      if (!captured.ok()) {
                        result.output = captured.status().message();
                      } else {
                        result.exit_code = captured->exit_code;
                        result.ok = captured->exit_code == 0 && !captured->timed_out;
                        result.output = std::move(captured->output);
                        if (captured->timed_out) {
                          result.output +=
                              fmt::format("\n(killed: timed out after {:.3g}s)",
                                          std::chrono::duration<double>(timeout).count());
                        }
                      }
                      done(std::move(result));
                    });
}

void CompositeProber::Probe(const ProbeTarget& target, const spec::HealthCheck& check,
                            std::chrono::nanoseconds timeout,
                            std::function<void(CheckResult)> done) {
  Prober& prober = check.type == spec::HealthCheckType::kCommand ? *command_ : *network_;
  prober.Probe(target, check, timeout, std::move(done));
}

std::unique_ptr<Prober> NewProber(boost::asio::io_context& loop, containerd::Client& client,
                                  boost::asio::thread_pool& pool, const std::string& state_dir,
                                  Logger& log) {
  return std::make_unique<CompositeProber>(
      std::make_unique<NetworkProber>(loop),
      std::make_unique<CommandProber>(loop, client, pool, state_dir, log));
}

}  // namespace zlayer::agent::health
