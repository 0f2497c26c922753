// A RuleApplier for unit tests of its callers: records every script it is
// asked to apply and answers with a status the test chooses, on the test's
// io_context (never inside Apply, like the real one). Header-only; link
// zlayer_agent_network.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <string>
#include <vector>

#include "agent/network/services/rule_applier.h"

namespace zlayer::testing {

class FakeRuleApplier : public agent::network::services::RuleApplier {
 public:
  explicit FakeRuleApplier(boost::asio::io_context& loop) : loop_(loop) {}

  void Apply(std::string script, agent::network::services::ApplyCallback done) override {
    scripts.push_back(script);
    Status status = next_status;
    if (status.ok()) applied = std::move(script);
    boost::asio::post(loop_, [done = std::move(done), status] { done(status); });
  }
  void Forget() override { ++forgets; }

  // Every script passed to Apply, in order (unchanged ones too).
  std::vector<std::string> scripts;
  // The last script that "succeeded": what the kernel would hold.
  std::string applied;
  // The outcome of the following applies.
  Status next_status = Status::Ok();
  int forgets = 0;

 private:
  boost::asio::io_context& loop_;
};

}  // namespace zlayer::testing
