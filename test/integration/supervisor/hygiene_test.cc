// Scenario 4 of the supervisor contract: what a child of zlayer-init gets —
// an empty signal mask, default dispositions, only fds 0-2, its own session,
// the documented arguments and environment; and the pid files.
#include <signal.h>

#include <catch2/catch.hpp>

#include "test/integration/supervisor/node.h"
#include "test/support/files.h"
#include "test/support/proc.h"

using namespace zlayer::testing;

namespace {

// Records, through child processes of the stand-in (which inherit exactly
// what the stand-in got, traps aside: exec resets caught signals), the signal
// state, the open fds, the environment and the arguments.
constexpr const char* kRecordWhatIGot = R"SH(
cat /proc/self/status > "$D/$SLOT.status"
ls -l /proc/self/fd > "$D/$SLOT.fds"
env > "$D/$SLOT.env"
printf '%s\n' "$0" "$@" > "$D/$SLOT.argv"
)SH";

// Lines "lr-x------ 1 root root 64 ... 3 -> /proc/123/fd" of `ls -l
// /proc/self/fd`; returns the fds other than 0, 1, 2 and ls's own directory fd.
std::vector<std::string> UnexpectedFds(const std::string& listing) {
  std::vector<std::string> unexpected;
  for (const std::string& line : SplitLines(listing)) {
    size_t arrow = line.find(" -> ");
    if (arrow == std::string::npos) continue;
    std::vector<std::string> before = SplitWords(line.substr(0, arrow));
    const std::string fd = before.empty() ? "" : before.back();
    const std::string target = line.substr(arrow + 4);
    if (fd == "0" || fd == "1" || fd == "2") continue;
    if (target.starts_with("/proc/") && target.ends_with("/fd")) continue;
    unexpected.push_back(fd + " -> " + target);
  }
  return unexpected;
}

// The value of field `name` in the text of a /proc/PID/status file.
std::string ProcStatusFieldOf(const std::string& status, const std::string& name) {
  for (const std::string& line : SplitLines(status)) {
    if (line.starts_with(name + ":")) {
      std::vector<std::string> words = SplitWords(line.substr(name.size() + 1));
      return words.empty() ? "" : words[0];
    }
  }
  return "<no " + name + ">";
}

void CheckCleanSignalsAndFds(const Node& node, const std::string& slot) {
  INFO("what the " << slot << " stand-in got");
  const std::string status = ReadFile(node.Path(slot + ".status"));
  REQUIRE_FALSE(status.empty());
  CHECK(ProcStatusFieldOf(status, "SigBlk") == "0000000000000000");
  CHECK(ProcStatusFieldOf(status, "SigIgn") == "0000000000000000");
  const std::string fds = ReadFile(node.Path(slot + ".fds"));
  REQUIRE_FALSE(fds.empty());
  CHECK(UnexpectedFds(fds) == std::vector<std::string>{});
}

bool HasLine(const std::string& text, const std::string& line) {
  for (const std::string& l : SplitLines(text)) {
    if (l == line) return true;
  }
  return false;
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

TEST_CASE(
    "containerd and the agent start with an empty signal mask, default dispositions, only "
    "fds 0-2, a session of their own and the documented arguments and environment") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  const std::string body = std::string(kRecordWhatIGot) + "ready\nidle\n";
  Node node({.mode = mode,
             .containerd_body = body,
             .agent_body = body,
             .env = {{"ZLAYER_WATCHDOG_TIMEOUT", "5s"}}});
  REQUIRE(node.StartAndWaitUntilUp());

  CheckCleanSignalsAndFds(node, "containerd");
  CheckCleanSignalsAndFds(node, "agent");

  INFO("each is the leader of its own session and process group");
  for (Slot slot : {Slot::kContainerd, Slot::kAgent}) {
    const pid_t pid = node.SlotPid(slot);
    CAPTURE(SlotName(slot), pid);
    auto stat = ReadProcStat(pid);
    REQUIRE(stat);
    CHECK(stat->session == pid);
    CHECK(stat->pgrp == pid);
  }

  INFO("containerd gets --config <run dir>/containerd.toml, the agent no arguments");
  const std::string config = node.RunDir() + "/containerd.toml";
  CHECK(ReadFile(node.Path("containerd.argv")) ==
        node.ScriptPath(Slot::kContainerd) + "\n--config\n" + config + "\n");
  CHECK(FileExists(config));
  CHECK(ReadFile(node.Path("agent.argv")) == node.ScriptPath(Slot::kAgent) + "\n");

  INFO("both get NOTIFY_SOCKET; the agent gets WATCHDOG_USEC");
  const std::string notify = "NOTIFY_SOCKET=" + node.RunDir() + "/notify.sock";
  CHECK(HasLine(ReadFile(node.Path("containerd.env")), notify));
  CHECK(HasLine(ReadFile(node.Path("agent.env")), notify));
  CHECK(HasLine(ReadFile(node.Path("agent.env")), "WATCHDOG_USEC=5000000"));

  INFO("the pid files hold the pids as seen in zlayer-init's PID namespace");
  CHECK(Trim(ReadFile(node.RunDir() + "/containerd.pid")) ==
        std::to_string(InnermostPid(node.SlotPid(Slot::kContainerd)).value_or(-1)));
  CHECK(Trim(ReadFile(node.RunDir() + "/zlayer-agent.pid")) ==
        std::to_string(InnermostPid(node.SlotPid(Slot::kAgent)).value_or(-1)));

  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
}

TEST_CASE(
    "The CLI run in pass-through mode starts with an empty signal mask, default "
    "dispositions and only fds 0-2") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode, .args = {"version"}, .cli_body = kRecordWhatIGot});
  node.Start();
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
  CheckCleanSignalsAndFds(node, "cli");
}
