#include "agent/network/services/rule_applier.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <optional>

#include "test/support/network/fake_rule_applier.h"

using zlayer::ProcessCallback;
using zlayer::ProcessRequest;
using zlayer::ProcessResult;
using zlayer::ProcessRunner;
using zlayer::Result;
using zlayer::Status;
using zlayer::StatusCode;
using namespace zlayer::agent::network::services;

namespace {

// Answers every run with `respond`, posted to the loop (never inside Run).
class FakeRunner : public ProcessRunner {
 public:
  explicit FakeRunner(boost::asio::io_context& io) : io_(io) {}
  std::function<Result<ProcessResult>(const ProcessRequest&)> respond = [](const auto&) {
    return Result<ProcessResult>(ProcessResult{});
  };
  std::vector<ProcessRequest> requests;

  void Run(ProcessRequest request, ProcessCallback done) override {
    requests.push_back(request);
    boost::asio::post(io_, [this, request, done = std::move(done)] { done(respond(request)); });
  }

 private:
  boost::asio::io_context& io_;
};

struct Fixture {
  boost::asio::io_context io;
  FakeRunner runner{io};
  NftRuleApplier applier{io, runner, NftOptions{.program = "/sbin/nft"}};

  // Applies and runs the loop until the outcome is back.
  Status ApplyNow(const std::string& script) {
    std::optional<Status> outcome;
    bool inside = true;
    applier.Apply(script, [&](Status s) {
      CHECK_FALSE(inside);
      outcome = s;
    });
    inside = false;
    io.restart();
    io.run();
    REQUIRE(outcome.has_value());
    return *outcome;
  }
};

ProcessResult Exit(int code, std::string err) {
  ProcessResult result;
  result.exit_code = code;
  result.stderr_data = std::move(err);
  return result;
}

}  // namespace

TEST_CASE("A script is fed to nft -f - on stdin, with the configured program and deadline") {
  Fixture f;
  CHECK(f.ApplyNow("table ip t {}\n").ok());
  REQUIRE(f.runner.requests.size() == 1);
  CHECK(f.runner.requests[0].program == "/sbin/nft");
  CHECK(f.runner.requests[0].args == std::vector<std::string>{"-f", "-"});
  CHECK(f.runner.requests[0].stdin_data == "table ip t {}\n");
  CHECK(f.runner.requests[0].timeout == std::chrono::seconds(10));
}

TEST_CASE("An unchanged script is not applied again, unless the applier was told to forget") {
  Fixture f;
  CHECK(f.ApplyNow("A").ok());
  CHECK(f.ApplyNow("A").ok());
  CHECK(f.runner.requests.size() == 1);
  CHECK(f.ApplyNow("B").ok());
  CHECK(f.ApplyNow("A").ok());
  CHECK(f.runner.requests.size() == 3);
  f.applier.Forget();
  CHECK(f.ApplyNow("A").ok());
  CHECK(f.runner.requests.size() == 4);
}

TEST_CASE("nft's failure is an error naming nft with its stderr, and the script is retried") {
  Fixture f;
  f.runner.respond = [](const auto&) {
    return Result<ProcessResult>(Exit(1, "/dev/stdin:3:1-4: Error: syntax error\n"));
  };
  Status status = f.ApplyNow("A");
  CHECK(status.code() == StatusCode::kInternal);
  CHECK(status.message() == "nft: exit 1: /dev/stdin:3:1-4: Error: syntax error");
  f.runner.respond = [](const auto&) { return Result<ProcessResult>(ProcessResult{}); };
  CHECK(f.ApplyNow("A").ok());
  CHECK(f.runner.requests.size() == 2);
}

TEST_CASE("A runner error (nft missing, deadline) keeps its code and names nft") {
  Fixture f;
  f.runner.respond = [](const auto&) {
    return Result<ProcessResult>(
        Status(StatusCode::kDeadlineExceeded, "/sbin/nft: killed after 10s"));
  };
  Status status = f.ApplyNow("A");
  CHECK(status.code() == StatusCode::kDeadlineExceeded);
  CHECK(status.message() == "nft: /sbin/nft: killed after 10s");
}

TEST_CASE("Applies asked for together run one at a time, in order, each answered once") {
  Fixture f;
  std::vector<std::string> order;
  for (const char* script : {"A", "B", "B", "C"}) {
    f.applier.Apply(script, [&, script](Status s) {
      CHECK(s.ok());
      order.push_back(script);
    });
  }
  f.io.run();
  CHECK(order == std::vector<std::string>{"A", "B", "B", "C"});
  REQUIRE(f.runner.requests.size() == 3);
  CHECK(f.runner.requests[2].stdin_data == "C");
}

TEST_CASE("The fake applier records scripts and answers with the status it is given") {
  boost::asio::io_context io;
  zlayer::testing::FakeRuleApplier fake(io);
  std::vector<Status> outcomes;
  fake.Apply("A", [&](Status s) { outcomes.push_back(s); });
  fake.next_status = Status(StatusCode::kInternal, "nft: exit 1: no");
  fake.Apply("B", [&](Status s) { outcomes.push_back(s); });
  CHECK(outcomes.empty());
  io.run();
  REQUIRE(outcomes.size() == 2);
  CHECK(outcomes[0].ok());
  CHECK_FALSE(outcomes[1].ok());
  CHECK(fake.scripts == std::vector<std::string>{"A", "B"});
  CHECK(fake.applied == "A");
}
