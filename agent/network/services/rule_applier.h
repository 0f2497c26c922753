// Applies nftables scripts (ruleset.h) to the kernel: `nft -f -` with the
// script on stdin, run through a ProcessRunner so the event loop never blocks.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/process_runner.h"
#include "common/status.h"

namespace zlayer::agent::network::services {

// Receives the outcome of one Apply.
using ApplyCallback = std::function<void(Status)>;

// Abstract so that its callers can be tested with a fake
// (test/support/fake_rule_applier.h).
class RuleApplier {
 public:
  virtual ~RuleApplier() = default;
  // Applies `script` as one transaction: all of it or, on error, nothing.
  // A script equal to the last one applied successfully is not applied again
  // (OK at once). `done` is called exactly once, never inside Apply itself.
  virtual void Apply(std::string script, ApplyCallback done) = 0;
  // Forgets the last applied script, so that the next Apply runs even when it
  // is the same: after something else may have changed the rules (the agent's
  // start, a deleted table).
  virtual void Forget() = 0;
};

struct NftOptions {
  std::string program = "/usr/sbin/nft";
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
};

// The real applier.
//
// Thread safety: call Apply and Forget on `loop`, the event loop of `runner`
// (the agent's loop); `done` runs there too. Applies run one at a time, in the
// order they were asked for; each is compared with the last successful one
// when its turn comes. Errors (the message starts with "nft: "): the runner's
// (nft missing, kDeadlineExceeded after options.timeout), and kInternal for a
// non-zero exit, with nft's stderr. `loop` and `runner` must outlive the
// applies in flight; destroying the applier drops the applies still queued or
// running without calling their callbacks (destroy it with the loop).
class NftRuleApplier : public RuleApplier {
 public:
  NftRuleApplier(boost::asio::io_context& loop, ProcessRunner& runner, NftOptions options = {});
  ~NftRuleApplier() override { *alive_ = false; }

  void Apply(std::string script, ApplyCallback done) override;
  void Forget() override;

 private:
  struct Pending {
    std::string script;
    ApplyCallback done;
  };
  void RunNext();
  // Pops the running apply, records its outcome, starts the next, then calls back.
  void Finish(Status status);

  boost::asio::io_context& loop_;
  ProcessRunner& runner_;
  const NftOptions options_;
  std::optional<std::string> applied_;  // the last script nft accepted
  std::deque<Pending> queue_;           // front() is running when running_
  bool running_ = false;
  // Cleared by the destructor, so that a run finishing later does nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace zlayer::agent::network::services
