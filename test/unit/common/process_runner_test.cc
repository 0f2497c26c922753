// The real runner against real short programs (/bin/sh, cat, env): cheap and
// hermetic enough for the unit label.
#include "common/process_runner.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using zlayer::AsioProcessRunner;
using zlayer::ProcessRequest;
using zlayer::ProcessResult;
using zlayer::Result;
using zlayer::StatusCode;

namespace {

ProcessRequest Shell(std::string script) {
  ProcessRequest request;
  request.program = "/bin/sh";
  request.args = {"-c", std::move(script)};
  request.env = {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}};
  request.timeout = 10s;
  return request;
}

// Runs `request` to completion on a fresh io_context.
Result<ProcessResult> RunOne(ProcessRequest request) {
  boost::asio::io_context io;
  AsioProcessRunner runner(io);
  std::optional<Result<ProcessResult>> outcome;
  runner.Run(std::move(request), [&](Result<ProcessResult> r) { outcome = std::move(r); });
  io.run();
  REQUIRE(outcome.has_value());
  return std::move(*outcome);
}

}  // namespace

TEST_CASE("Given stdin data, a program that echoes it returns it on stdout with exit 0") {
  ProcessRequest request;
  request.program = "/bin/cat";
  request.stdin_data = "{\"cniVersion\":\"1.0.0\"}";
  auto result = RunOne(request);
  REQUIRE(result.ok());
  CHECK(result->exit_code == 0);
  CHECK(result->term_signal == 0);
  CHECK(result->stdout_data == request.stdin_data);
  CHECK(result->stderr_data.empty());
}

TEST_CASE("A non-zero exit is a value carrying the code, stdout and stderr") {
  auto result = RunOne(Shell("echo out; echo err >&2; exit 3"));
  REQUIRE(result.ok());
  CHECK(result->exit_code == 3);
  CHECK(result->stdout_data == "out\n");
  CHECK(result->stderr_data == "err\n");
}

TEST_CASE("A program killed by a signal reports the signal and 128 + its number") {
  auto result = RunOne(Shell("kill -TERM $$"));
  REQUIRE(result.ok());
  CHECK(result->term_signal == SIGTERM);
  CHECK(result->exit_code == 128 + SIGTERM);
}

TEST_CASE("The program sees exactly the environment of the request") {
  ProcessRequest request;
  request.program = "/usr/bin/env";
  request.env = {{"CNI_COMMAND", "ADD"}, {"CNI_IFNAME", "eth0"}};
  auto result = RunOne(request);
  REQUIRE(result.ok());
  CHECK(result->stdout_data == "CNI_COMMAND=ADD\nCNI_IFNAME=eth0\n");
}

TEST_CASE("A missing program is a kNotFound error naming it") {
  ProcessRequest request;
  request.program = "/nonexistent/zl-plugin";
  auto result = RunOne(request);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::kNotFound);
  CHECK_THAT(result.status().message(), Catch::Contains("/nonexistent/zl-plugin"));
  // The child Boost.Process forked for the failed execve is reaped, not left a zombie.
  int status = 0;
  CHECK(waitpid(-1, &status, WNOHANG) == -1);
  CHECK(errno == ECHILD);
}

TEST_CASE("A program past its deadline is killed with its children and reported as such") {
  // The background sleep holds stdout open: only killing the group ends the run promptly.
  ProcessRequest request = Shell("sleep 30 & sleep 30");
  request.timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto result = RunOne(request);
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::kDeadlineExceeded);
  CHECK_THAT(result.status().message(), Catch::Contains("/bin/sh"));
  CHECK(took < 5s);
}

TEST_CASE("A program that never reads a large stdin neither blocks nor kills the caller") {
  ProcessRequest request = Shell("exec 0<&-; echo done");
  request.stdin_data.assign(4 << 20, 'x');
  auto result = RunOne(request);
  REQUIRE(result.ok());
  CHECK(result->exit_code == 0);
  CHECK(result->stdout_data == "done\n");
}

TEST_CASE("Output beyond max_output is dropped, and the program still completes") {
  ProcessRequest request = Shell("head -c 100000 /dev/zero");
  request.max_output = 1000;
  auto result = RunOne(request);
  REQUIRE(result.ok());
  CHECK(result->exit_code == 0);
  CHECK(result->stdout_data.size() == 1000);
}

TEST_CASE(
    "Many concurrent short programs all report their own exit, and a child started "
    "elsewhere in the process is left for its own waiter") {
  // A child this runner knows nothing of, like one some other code would wait for.
  pid_t other = -1;
  char sh[] = "/bin/sh", c[] = "-c", script[] = "sleep 0.3; exit 42";
  char* argv[] = {sh, c, script, nullptr};
  REQUIRE(posix_spawn(&other, "/bin/sh", nullptr, nullptr, argv, environ) == 0);

  boost::asio::io_context io;
  AsioProcessRunner runner(io);
  constexpr int kRuns = 200;
  std::vector<std::optional<Result<ProcessResult>>> outcomes(kRuns);
  for (int i = 0; i < kRuns; ++i) {
    runner.Run(Shell("echo " + std::to_string(i) + "; exit " + std::to_string(i % 7)),
               [&outcomes, i](Result<ProcessResult> r) { outcomes[i] = std::move(r); });
  }
  io.run();

  for (int i = 0; i < kRuns; ++i) {
    INFO("run " << i);
    REQUIRE(outcomes[i].has_value());
    REQUIRE(outcomes[i]->ok());
    CHECK((*outcomes[i])->exit_code == i % 7);
    CHECK((*outcomes[i])->stdout_data == std::to_string(i) + "\n");
  }
  int status = 0;
  REQUIRE(waitpid(other, &status, 0) == other);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 42);
}

TEST_CASE("The callback never runs inside Run") {
  boost::asio::io_context io;
  AsioProcessRunner runner(io);
  bool called = false;
  ProcessRequest request;
  request.program = "/nonexistent/zl-plugin";
  runner.Run(request, [&](Result<ProcessResult>) { called = true; });
  CHECK_FALSE(called);
  io.run();
  CHECK(called);
}

TEST_CASE(
    "Running programs installs no SIGCHLD handler, so other threads' blocking calls are "
    "never interrupted by child exits") {
  boost::asio::io_context io;
  AsioProcessRunner runner(io);
  for (int i = 0; i < 5; ++i) runner.Run(Shell("true"), [](Result<ProcessResult>) {});
  io.run();
  struct sigaction current {};
  REQUIRE(sigaction(SIGCHLD, nullptr, &current) == 0);
  CHECK(current.sa_handler == SIG_DFL);
}
