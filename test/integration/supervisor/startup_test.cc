// Start-up order: containerd first, with a config rendered from the
// environment; the agent only once containerd has sent READY=1.
#include <signal.h>

#include <catch2/catch.hpp>

#include "test/integration/supervisor/node.h"
#include "test/support/files.h"

using namespace zlayer::testing;

TEST_CASE("zlayer-init starts the agent only after containerd has sent READY=1") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  // containerd takes half a second to get ready: an agent started too early
  // shows up before "containerd-notifying".
  Node node(
      {.mode = mode, .containerd_body = "sleep 0.5\nevent containerd-notifying\nready\nidle\n"});
  REQUIRE(node.StartAndWaitUntilUp());
  REQUIRE(node.EventIndex("containerd-notifying") >= 0);
  CHECK(node.EventIndex("agent-started") > node.EventIndex("containerd-notifying"));
  CHECK(node.Starts(Slot::kAgent) == 1);

  INFO("containerd's config names the directories and the socket from the environment");
  const std::string config = ReadFile(node.RunDir() + "/containerd.toml");
  CHECK_THAT(config, Catch::Contains(node.Path("ctrd-root")));
  CHECK_THAT(config, Catch::Contains(node.Path("ctrd-state")));
  CHECK_THAT(config, Catch::Contains(node.Path("ctrd.sock")));

  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
}
