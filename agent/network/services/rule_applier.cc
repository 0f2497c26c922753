#include "agent/network/services/rule_applier.h"

#include <fmt/core.h>

#include <boost/algorithm/string/trim.hpp>
#include <boost/asio/post.hpp>

namespace zlayer::agent::network::services {

NftRuleApplier::NftRuleApplier(boost::asio::io_context& loop, ProcessRunner& runner,
                               NftOptions options)
    : loop_(loop), runner_(runner), options_(std::move(options)) {}

void NftRuleApplier::Forget() { applied_.reset(); }

void NftRuleApplier::Apply(std::string script, ApplyCallback done) {
  queue_.push_back(Pending{std::move(script), std::move(done)});
  if (!running_) RunNext();
}

void NftRuleApplier::RunNext() {
  if (queue_.empty()) return;
  running_ = true;
  const Pending& next = queue_.front();
  if (applied_ == next.script) {
    // Unchanged: no process, but still never inside Apply.
    boost::asio::post(loop_, [this, alive = alive_] {
      if (*alive) Finish(Status::Ok());
    });
    return;
  }
  ProcessRequest request;
  request.program = options_.program;
  request.args = {"-f", "-"};
  request.stdin_data = next.script;
  request.timeout = options_.timeout;
  runner_.Run(std::move(request), [this, alive = alive_](Result<ProcessResult> result) {
    if (!*alive) return;
    if (!result.ok()) return Finish(result.status().Wrap("nft"));
    if (result->exit_code != 0) {
      std::string err = result->stderr_data;
      boost::algorithm::trim(err);
      return Finish(Status(StatusCode::kInternal, fmt::format("nft: exit {}: {}", result->exit_code,
                                                              err.empty() ? "(no output)" : err)));
    }
    Finish(Status::Ok());
  });
}

void NftRuleApplier::Finish(Status status) {
  Pending done = std::move(queue_.front());
  queue_.pop_front();
  if (status.ok()) {
    applied_ = std::move(done.script);
  } else {
    applied_.reset();  // nft changed nothing, but the next attempt must run whatever it is
  }
  running_ = false;
  RunNext();
  done.done(status);
}

}  // namespace zlayer::agent::network::services
