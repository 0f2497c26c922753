// What zlayer-init writes: its own prefixed log lines, the children's output
// relayed with their names, the warning about unknown ZLAYER_* variables,
// and the level filter.
#include <signal.h>

#include <catch2/catch.hpp>
#include <regex>

#include "test/integration/supervisor/node.h"
#include "test/support/files.h"

using namespace zlayer::testing;

namespace {

constexpr const char* kChatty = R"SH(
echo "hello from $SLOT on stdout"
echo "hello from $SLOT on stderr" >&2
ready
idle
)SH";

bool HasLine(const std::string& text, const std::string& line) {
  for (const std::string& l : SplitLines(text)) {
    if (l == line) return true;
  }
  return false;
}

void StopAndExpectExit0(Node& node) {
  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
}

}  // namespace

TEST_CASE(
    "Lines containerd and the agent print are relayed prefixed with their names, stdout to "
    "stdout and stderr to stderr") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode, .containerd_body = kChatty, .agent_body = kChatty});
  REQUIRE(node.StartAndWaitUntilUp());
  CHECK(WaitUntil([&] {
    return HasLine(node.Stdout(), "containerd: hello from containerd on stdout") &&
           HasLine(node.Stderr(), "containerd: hello from containerd on stderr") &&
           HasLine(node.Stdout(), "zlayer-agent: hello from agent on stdout") &&
           HasLine(node.Stderr(), "zlayer-agent: hello from agent on stderr");
  }));
  CHECK(CountLinesContaining(node.Stderr(), "on stdout") == 0);
  CHECK(CountLinesContaining(node.Stdout(), "on stderr") == 0);
  StopAndExpectExit0(node);
}

TEST_CASE(
    "Every line zlayer-init writes to stderr is 'zlayer-init: <level>: <message>' or a "
    "relayed line, and as a subreaper it says so") {
  Node node({.containerd_body = kChatty, .agent_body = kChatty});
  REQUIRE(node.StartAndWaitUntilUp());
  StopAndExpectExit0(node);
  const std::regex own("zlayer-init: (debug|info|warn|error): .+");
  for (const std::string& line : SplitLines(node.Stderr())) {
    INFO("stderr line: " << line);
    CHECK((std::regex_match(line, own) || line.starts_with("containerd: ") ||
           line.starts_with("zlayer-agent: ")));
  }
  CHECK(CountLinesContaining(node.Stderr(), "subreaper") >= 1);
}

TEST_CASE("An unknown ZLAYER_* variable is named in one warning at start") {
  Node node({.env = {{"ZLAYER_NO_SUCH_SETTING", "1"}}});
  REQUIRE(node.StartAndWaitUntilUp());
  StopAndExpectExit0(node);
  int warnings = 0;
  for (const std::string& line : SplitLines(node.Stderr())) {
    if (line.starts_with("zlayer-init: warn") &&
        line.find("ZLAYER_NO_SUCH_SETTING") != std::string::npos) {
      ++warnings;
    }
  }
  CHECK(warnings == 1);
}

TEST_CASE("With ZLAYER_LOG_LEVEL=error zlayer-init writes no debug, info or warn lines") {
  Node node({.env = {{"ZLAYER_LOG_LEVEL", "error"}}});
  node.Start();
  REQUIRE(node.WaitForEvent("agent-idle"));
  StopAndExpectExit0(node);
  CHECK(CountLinesContaining(node.Stderr(), "zlayer-init: debug:") == 0);
  CHECK(CountLinesContaining(node.Stderr(), "zlayer-init: info:") == 0);
  CHECK(CountLinesContaining(node.Stderr(), "zlayer-init: warn:") == 0);
}
