#include "agent/reconcile/restart_policy.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using namespace zlayer;
using namespace zlayer::reconcile;

namespace {
ReplicaRestartPolicy Policy(spec::RestartKind kind, uint32_t max_attempts = 0,
                            spec::ResourceType rtype = spec::ResourceType::kService) {
  spec::RestartPolicy p;
  p.kind = kind;
  p.max_attempts = max_attempts;
  return ReplicaRestartPolicy(p, rtype, [] { return 0.0; });
}
const SteadyTime t0{};
}  // namespace

TEST_CASE("Restart decisions follow the policy kind and the exit status") {
  struct Case {
    spec::RestartKind kind;
    uint32_t exit_status;
    bool restart;
  };
  const Case cases[] = {
      {spec::RestartKind::kNo, 1, false},           {spec::RestartKind::kNo, 0, false},
      {spec::RestartKind::kAlways, 0, true},        {spec::RestartKind::kAlways, 137, true},
      {spec::RestartKind::kUnlessStopped, 0, true}, {spec::RestartKind::kOnFailure, 0, false},
      {spec::RestartKind::kOnFailure, 2, true},
  };
  for (const Case& c : cases) {
    INFO("kind " << spec::Name(c.kind) << " exit " << c.exit_status);
    auto policy = Policy(c.kind);
    policy.OnStarted(t0);
    CHECK(policy.OnExit(c.exit_status, t0 + 1s).restart == c.restart);
  }
}

TEST_CASE(
    "The first failure in a row restarts at once, then the back-off starts at the delay and "
    "doubles") {
  auto policy = Policy(spec::RestartKind::kAlways);
  SteadyTime now = t0;
  for (auto expected : {0ms, 100ms, 200ms, 400ms, 800ms}) {
    policy.OnStarted(now);
    now += 10ms;
    auto d = policy.OnExit(1, now);
    REQUIRE(d.restart);
    CHECK(d.delay == expected);
    now += d.delay;
  }
  CHECK(policy.restarts() == 5);
}

TEST_CASE("A crash after a stable run is restarted at once, whatever came before") {
  struct Case {
    std::chrono::milliseconds run;  // how long the run before the crash lasted
    std::chrono::nanoseconds delay;
  };
  // After three quick crashes in a row (delays 0, 100ms, 200ms):
  const Case cases[] = {
      {1ms, 400ms},
      {9999ms, 400ms},
      {10000ms, 0ms},
      {60000ms, 0ms},
  };
  for (const Case& c : cases) {
    CAPTURE(c.run.count());
    auto policy = Policy(spec::RestartKind::kAlways);
    SteadyTime now = t0;
    for (int i = 0; i < 3; ++i) {
      policy.OnStarted(now);
      now += 1ms;
      now += policy.OnExit(1, now).delay;
    }
    policy.OnStarted(now);
    CHECK(policy.OnExit(1, now + c.run).delay == c.delay);
  }
}

TEST_CASE("Back-off is capped at 60s and a 10s run ends the row") {
  auto policy = Policy(spec::RestartKind::kAlways);
  SteadyTime now = t0;
  RestartDecision d;
  for (int i = 0; i < 20; ++i) {
    policy.OnStarted(now);
    now += 1ms;
    d = policy.OnExit(1, now);
    now += d.delay;
  }
  CHECK(d.delay == 60s);
  policy.OnStarted(now);
  now += 10s;
  CHECK(policy.OnExit(1, now).delay == 0ms);
  policy.OnStarted(now);
  CHECK(policy.OnExit(1, now + 1ms).delay == 100ms);
}

TEST_CASE("max_attempts limits consecutive restarts, then the replica stays down") {
  auto policy = Policy(spec::RestartKind::kOnFailure, 2);
  SteadyTime now = t0;
  for (int i = 0; i < 2; ++i) {
    policy.OnStarted(now);
    now += 1ms;
    CHECK(policy.OnExit(1, now).restart);
  }
  policy.OnStarted(now);
  auto last = policy.OnExit(1, now + 1ms);
  CHECK_FALSE(last.restart);
  CHECK(std::string(last.reason) == "restart attempts exhausted");
}

TEST_CASE("A job that exits 0 is completed, not restarted") {
  auto policy = Policy(spec::RestartKind::kOnFailure, 0, spec::ResourceType::kJob);
  policy.OnStarted(t0);
  auto d = policy.OnExit(0, t0 + 1s);
  CHECK_FALSE(d.restart);
  CHECK(std::string(d.reason) == "completed");
}

TEST_CASE("Failed starts keep doubling the back-off however far apart they are") {
  auto policy = Policy(spec::RestartKind::kAlways);
  SteadyTime now = t0 + 1h;  // long after any earlier run
  for (auto expected : {0ms, 100ms, 200ms, 400ms, 800ms}) {
    auto d = policy.OnStartFailed(now);
    REQUIRE(d.restart);
    CHECK(d.delay == expected);
    now += 30s;  // retries far apart must not count as stable runs
  }
}

TEST_CASE("A create that can never succeed is told apart from one that may pass") {
  struct Case {
    StatusCode code;
    const char* message;
    bool permanent;
  };
  const Case cases[] = {
      {StatusCode::kResourceExhausted,
       "create container app-web-0: Sent message larger than max (790000000 vs. 16777216)", true},
      {StatusCode::kResourceExhausted, "write /var/lib: no space left on device", false},
      {StatusCode::kInvalidArgument, "create container app-web-0: invalid spec", true},
      {StatusCode::kOutOfRange, "too many", true},
      {StatusCode::kUnimplemented, "unknown method", true},
      {StatusCode::kUnavailable, "connection refused", false},
      {StatusCode::kDeadlineExceeded, "deadline exceeded", false},
      {StatusCode::kNotFound, "image zlayer/x not found (pull_policy never)", false},
      {StatusCode::kInternal, "runc create failed", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.message);
    CHECK(IsPermanentFailure(Status(c.code, c.message)) == c.permanent);
  }
}
