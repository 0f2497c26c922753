// A zlayer-init under test, run from a private /tmp/zl-XXXXXX directory with
// shell scripts in the places of containerd, zlayer-agent, dnsmasq, haproxy and the
// zlayer CLI.
//
// The scripts ("stand-ins") share a preamble that makes them observable:
// each start appends its pid to <slot>.starts and writes an event line
// "<name> <unix-ns>" to the shared file `events`; TERM, USR1, USR2 and ABRT
// are trapped and recorded as "<slot>-stopping"/"<slot>-stopped",
// "<slot>-usr1", "<slot>-usr2", "<slot>-abrt". Script bodies call:
//   ready            systemd-notify --ready
//   idle [SECONDS]   record "<slot>-idle" and wait for signals forever; with
//                    SECONDS, send WATCHDOG=1 that often
//   event NAME       record an event
// and may set STOP_DELAY=SECONDS (the TERM handler then takes that long).
// $D is the test directory, $SLOT the slot name, $START the start number.
//
// zlayer-init runs either directly (it then is a child subreaper) or as PID 1
// of a new PID namespace (unshare --pid --fork --mount-proc). Pids returned
// here are host pids, found by walking /proc from zlayer-init's host pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "test/support/child_process.h"
#include "test/support/temp_dir.h"
#include "test/support/wait_until.h"

namespace zlayer::testing {

enum class InitMode { kSubreaper, kPid1 };
const char* ToString(InitMode mode);

enum class Slot { kContainerd, kAgent, kCli, kDnsmasq, kHaproxy };
// "containerd", "agent", "cli", "dnsmasq", "haproxy": the $SLOT of the stand-in and its
// file names.
const char* SlotName(Slot slot);

// Script bodies for the common cases.
inline constexpr const char* kReadyThenIdle = "ready\nidle\n";
// Records its arguments one per line in $D/cli.argv.<start> and exits 0.
inline constexpr const char* kCliRecordsArgs =
    "printf '%s\\n' \"$@\" > \"$D/cli.argv.$START\"\n"
    "event cli-done\n";

inline constexpr const char* kDnsmasqRecordsArgsThenIdle =
    "printf '%s\\n' \"$@\" > \"$D/dnsmasq.argv.$START\"\n"
    "idle\n";

struct NodeOptions {
  InitMode mode = InitMode::kSubreaper;
  std::vector<std::string> args;  // zlayer-init's arguments; empty = serve
  std::string containerd_body = kReadyThenIdle;
  std::string agent_body = kReadyThenIdle;
  std::string cli_body = kCliRecordsArgs;
  // dnsmasq sends no READY=1; by default the stand-in records its arguments
  // in $D/dnsmasq.argv.<start> and idles.
  std::string dnsmasq_body = kDnsmasqRecordsArgsThenIdle;
  // haproxy sends READY=1 like containerd (the real one: ZLAYER_HAPROXY_BIN=haproxy in env).
  std::string haproxy_body = kReadyThenIdle;
  // Added to (or replacing) the base environment; std::nullopt removes a variable.
  std::map<std::string, std::optional<std::string>> env;
};

struct Event {
  std::string name;
  std::int64_t unix_ns = 0;
};

class Node {
 public:
  // Creates the directory and the scripts; does not start anything yet.
  explicit Node(NodeOptions options);
  // Kills whatever still runs (zlayer-init, its descendants, anything that
  // mentions the test directory), prints the logs if the test failed.
  ~Node();

  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Starts zlayer-init (in the chosen mode). Throws if it cannot be spawned.
  void Start();

  // The path of zlayer-init under test (build/bin/zlayer-init).
  static std::string InitBinary();

  InitMode mode() const { return options_.mode; }
  const TempDir& dir() const { return dir_; }
  std::string Path(const std::string& relative) const { return dir_.Path(relative); }
  std::string ScriptPath(Slot slot) const;
  // Writes $D/<name>.sh: a further stand-in with the shared preamble and
  // $SLOT=<name> (e.g. a helper a slot script starts). Returns its path.
  std::string WriteStandIn(const std::string& name, const std::string& body) const;
  std::string RunDir() const { return Path("run"); }
  // Sets a variable of zlayer-init's environment (before Start), for values
  // that depend on the test directory.
  void SetEnv(const std::string& key, const std::string& value);
  // Replaces zlayer-init's arguments (before Start), for arguments that name
  // files in the test directory.
  void SetArgs(std::vector<std::string> args) { options_.args = std::move(args); }
  // The environment zlayer-init is started with.
  const std::vector<std::string>& environment() const { return env_; }

  // Host pid of zlayer-init; 0 if it has already exited (or, in PID 1 mode,
  // never got to exec).
  pid_t InitPid();
  // Host pid of the process zlayer-init runs in `slot` right now: a live
  // direct child of zlayer-init whose argv[1] is the slot's script. 0 if none.
  pid_t SlotPid(Slot slot);
  // Host pid of a live direct child of zlayer-init whose argv[0] ends with
  // `program` (for a real program in a slot). 0 if none.
  pid_t ChildRunning(const std::string& program);
  // Waits (kHangTimeout) for a slot process other than `not_this`; 0 on timeout.
  pid_t WaitForSlot(Slot slot, pid_t not_this = 0);
  // Every descendant of zlayer-init (host pids).
  std::vector<pid_t> Descendants();

  // Sends `sig` to zlayer-init.
  void Signal(int sig);
  // zlayer-init's exit status (in PID 1 mode, unshare's, which passes it on).
  std::optional<ExitStatus> Wait(std::chrono::milliseconds timeout = kHangTimeout);
  bool Running();

  std::string Stdout() const;
  std::string Stderr() const;
  // Lines of stdout + stderr containing `text`.
  int CountLogLines(const std::string& text) const;
  bool WaitForLog(const std::string& text, int count = 1,
                  std::chrono::milliseconds timeout = kHangTimeout) const;

  std::vector<Event> Events() const;
  std::vector<Event> EventsNamed(const std::string& name) const;
  int CountEvents(const std::string& name) const {
    return static_cast<int>(EventsNamed(name).size());
  }
  bool WaitForEvent(const std::string& name, int count = 1,
                    std::chrono::milliseconds timeout = kHangTimeout) const;
  // Position of the first event `name` in the events file, or -1.
  int EventIndex(const std::string& name) const;
  // How often the stand-in in `slot` has been started.
  int Starts(Slot slot) const;

  // Processes that still mention the test directory in their argv or
  // environment (everything the node started inherits ZLAYER_RUN_DIR).
  std::vector<pid_t> Leftovers() const;

  // Starts the node and waits until the agent stand-in is idle (containerd
  // was ready, the agent started and installed its signal traps) and
  // zlayer-init logged "zlayer-agent is ready". Returns false on timeout.
  bool StartAndWaitUntilUp();

 private:
  std::string Script(const std::string& slot_name, const std::string& body) const;
  void DumpDiagnostics() const;

  NodeOptions options_;
  TempDir dir_;
  std::vector<std::string> env_;
  std::unique_ptr<ChildProcess> process_;
  pid_t init_pid_ = 0;
  std::uint64_t failures_at_start_ = 0;
};

// Milliseconds from event `a` to event `b` (negative if b came first).
double MillisBetween(const Event& a, const Event& b);

}  // namespace zlayer::testing
