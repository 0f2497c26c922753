// zlayer-init's command line: pass-through to the zlayer CLI (scenario 1 of
// the supervisor contract: exit codes propagate), --help, join.
#include <signal.h>

#include <catch2/catch.hpp>

#include "test/integration/supervisor/node.h"
#include "test/support/files.h"
#include "test/support/proc.h"

using namespace zlayer::testing;

namespace {

// The CLI stand-in: "exit N" exits with N, "die SIG" kills itself with SIG,
// anything else records its arguments.
constexpr const char* kCliExitsOrDies = R"SH(
printf '%s\n' "$@" > "$D/cli.argv.$START"
case "$1" in
  exit) exit "$2" ;;
  die) ulimit -c 0; trap - "$2"; kill -s "$2" $$; sleep 100 ;;
esac
)SH";

}  // namespace

TEST_CASE(
    "Given arguments that are no node command, zlayer-init runs the zlayer CLI with them "
    "and exits with the CLI's exit code") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  const int code = GENERATE(0, 1, 2, 3, 42, 126, 127, 128, 200, 255);
  INFO("zlayer-init " << ToString(mode) << ", CLI exits with " << code);
  Node node({.mode = mode, .args = {"exit", std::to_string(code)}, .cli_body = kCliExitsOrDies});
  node.Start();
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == ExitStatus::Exited(code).ToString());
  CHECK(node.Starts(Slot::kCli) == 1);
  CHECK(ReadFile(node.Path("cli.argv.1")) == "exit\n" + std::to_string(code) + "\n");
}

TEST_CASE("Given a CLI that is killed by signal N, zlayer-init exits with 128+N") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  const auto [sig, name] = GENERATE(table<int, std::string>(
      {{SIGKILL, "KILL"}, {SIGTERM, "TERM"}, {SIGSEGV, "SEGV"}, {SIGINT, "INT"}}));
  INFO("zlayer-init " << ToString(mode) << ", CLI dies by SIG" << name);
  Node node({.mode = mode, .args = {"die", name}, .cli_body = kCliExitsOrDies});
  node.Start();
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == ExitStatus::Exited(128 + sig).ToString());
}

TEST_CASE("The CLI gets exactly the arguments zlayer-init was given, and zlayer-init's stdio") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode,
             .args = {"ps", "-o", "json", "with space", ""},
             .cli_body = "printf '%s\\n' \"$@\" > \"$D/cli.argv.$START\"\n"
                         "echo to-stdout\necho to-stderr >&2\n"});
  node.Start();
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
  CHECK(ReadFile(node.Path("cli.argv.1")) == "ps\n-o\njson\nwith space\n\n");
  // Inherited stdio: the lines arrive unprefixed, on the same streams.
  CHECK(CountLinesContaining(node.Stdout(), "to-stdout") == 1);
  CHECK(CountLinesContaining(node.Stderr(), "to-stderr") == 1);
  CHECK(node.Starts(Slot::kContainerd) == 0);
  CHECK(node.Starts(Slot::kAgent) == 0);
}

TEST_CASE("zlayer-init --help prints the usage on stdout and exits 0") {
  Node node({.args = {"--help"}});
  node.Start();
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
  const std::string usage = node.Stdout();
  CHECK_THAT(usage, Catch::Contains("serve"));
  CHECK_THAT(usage, Catch::Contains("deploy"));
  CHECK_THAT(usage, Catch::Contains("join"));
  CHECK(node.Starts(Slot::kCli) == 0);
  CHECK(node.Starts(Slot::kContainerd) == 0);
}

TEST_CASE("zlayer-init join answers that joining is not supported yet and exits 1") {
  Node node({.args = {"join", "--api", "http://127.0.0.1:1", "--token", "t"}});
  node.Start();
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 1");
  CHECK(node.CountLogLines("not supported yet") >= 1);
  CHECK(node.Starts(Slot::kCli) == 0);
  CHECK(node.Starts(Slot::kContainerd) == 0);
}
