#include "test/integration/supervisor/node.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <iostream>
#include <stdexcept>

#include "test/support/failure_count.h"
#include "test/support/files.h"
#include "test/support/proc.h"

namespace zlayer::testing {
namespace {

// Shared by every stand-in; see node.h. Traps are installed before anything
// else so that a signal never meets a script with default dispositions.
constexpr const char* kPreamble = R"SH(
SLEEPER=
STOP_DELAY=
event() { echo "$1 $(date +%s%N)" >> "$D/events"; }
ready() { systemd-notify --ready; }
stop_sleeper() { if [ -n "$SLEEPER" ]; then kill "$SLEEPER" 2>/dev/null; fi; }
trap 'event "$SLOT-stopping"; if [ -n "$STOP_DELAY" ]; then sleep "$STOP_DELAY"; fi; event "$SLOT-stopped"; stop_sleeper; exit 0' TERM
trap 'event "$SLOT-usr1"' USR1
trap 'event "$SLOT-usr2"' USR2
trap 'event "$SLOT-abrt"; stop_sleeper; exit 134' ABRT
idle() {
  event "$SLOT-idle"
  while :; do
    if [ -n "$1" ]; then systemd-notify WATCHDOG=1; fi
    sleep "${1:-100000}" & SLEEPER=$!
    while kill -0 "$SLEEPER" 2>/dev/null; do wait "$SLEEPER"; done
  done
}
echo $$ >> "$D/$SLOT.starts"
START=$(wc -l < "$D/$SLOT.starts")
event "$SLOT-started"
)SH";

std::string ReadTail(const std::string& path, size_t max_lines) {
  std::vector<std::string> lines = ReadLines(path);
  size_t first = lines.size() > max_lines ? lines.size() - max_lines : 0;
  std::string text;
  for (size_t i = first; i < lines.size(); ++i) text += "    " + lines[i] + "\n";
  return text;
}

}  // namespace

const char* ToString(InitMode mode) {
  return mode == InitMode::kPid1 ? "as PID 1 of a new PID namespace" : "as a subreaper";
}

const char* SlotName(Slot slot) {
  switch (slot) {
    case Slot::kContainerd:
      return "containerd";
    case Slot::kAgent:
      return "agent";
    case Slot::kCli:
      return "cli";
    case Slot::kDnsmasq:
      return "dnsmasq";
    case Slot::kHaproxy:
      return "haproxy";
  }
  return "?";
}

Node::Node(NodeOptions options) : options_(std::move(options)) {
  failures_at_start_ = FailedAssertionCount();
  // Orphans that escape zlayer-init come to the test, which can then reap them.
  BecomeSubreaper();

  std::map<std::string, std::optional<std::string>> env = {
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
      {"ZLAYER_RUN_DIR", Path("run")},
      {"ZLAYER_DATA_DIR", Path("data")},
      {"ZLAYER_STATE_DIR", Path("state")},
      {"ZLAYER_CONTAINERD_ROOT", Path("ctrd-root")},
      {"ZLAYER_CONTAINERD_STATE", Path("ctrd-state")},
      {"CONTAINERD_SOCKET", Path("ctrd.sock")},
      {"ZLAYER_SOCKET", Path("agent.sock")},
      {"ZLAYER_CONTAINERD_BIN", ScriptPath(Slot::kContainerd)},
      {"ZLAYER_AGENT_BIN", ScriptPath(Slot::kAgent)},
      {"ZLAYER_CLI_BIN", ScriptPath(Slot::kCli)},
      {"ZLAYER_DNSMASQ_BIN", ScriptPath(Slot::kDnsmasq)},
      {"ZLAYER_HAPROXY_BIN", ScriptPath(Slot::kHaproxy)},
      {"ZLAYER_START_TIMEOUT", "10s"},
      {"ZLAYER_SNAPSHOTTER", "native"},
      {"ZLAYER_LOG_LEVEL", "debug"},
  };
  for (const auto& [key, value] : options_.env) env[key] = value;
  for (const auto& [key, value] : env) {
    if (value) env_.push_back(key + "=" + *value);
  }

  for (Slot slot : {Slot::kContainerd, Slot::kAgent, Slot::kCli, Slot::kDnsmasq, Slot::kHaproxy}) {
    const std::string& body = slot == Slot::kContainerd ? options_.containerd_body
                              : slot == Slot::kAgent    ? options_.agent_body
                              : slot == Slot::kCli      ? options_.cli_body
                              : slot == Slot::kDnsmasq  ? options_.dnsmasq_body
                                                        : options_.haproxy_body;
    WriteScript(ScriptPath(slot), Script(SlotName(slot), body));
  }
}

Node::~Node() {
  const bool failed =
      FailedAssertionCount() != failures_at_start_ || std::uncaught_exceptions() > 0;
  if (process_) process_->KillTree();
  std::vector<pid_t> leftovers = Leftovers();
  if (!leftovers.empty()) ReapChildren(KillProcessTrees(leftovers));
  if (failed) DumpDiagnostics();
}

void Node::SetEnv(const std::string& key, const std::string& value) {
  std::erase_if(env_, [&](const std::string& e) { return e.starts_with(key + "="); });
  env_.push_back(key + "=" + value);
}

std::string Node::InitBinary() { return std::string(ZLAYER_BIN_DIR) + "/zlayer-init"; }

std::string Node::ScriptPath(Slot slot) const {
  switch (slot) {
    case Slot::kContainerd:
      return Path("containerd.sh");
    case Slot::kAgent:
      return Path("agent.sh");
    case Slot::kCli:
      return Path("zlayer.sh");
    case Slot::kDnsmasq:
      return Path("dnsmasq.sh");
    case Slot::kHaproxy:
      return Path("haproxy.sh");
  }
  return "";
}

std::string Node::Script(const std::string& slot_name, const std::string& body) const {
  return "#!/bin/sh\n# Stand-in for " + slot_name +
         ", written by the zlayer-init black-box tests.\nD='" + dir_.path() + "'\nSLOT='" +
         slot_name + "'" + kPreamble + body;
}

std::string Node::WriteStandIn(const std::string& name, const std::string& body) const {
  const std::string path = Path(name + ".sh");
  WriteScript(path, Script(name, body));
  return path;
}

void Node::Start() {
  if (access(InitBinary().c_str(), X_OK) != 0) {
    throw std::runtime_error("zlayer-init is not built: " + InitBinary());
  }
  SpawnOptions spawn;
  if (options_.mode == InitMode::kPid1) {
    spawn.argv = {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc"};
  }
  spawn.argv.push_back(InitBinary());
  spawn.argv.insert(spawn.argv.end(), options_.args.begin(), options_.args.end());
  spawn.env = env_;
  spawn.stdout_path = Path("init.stdout");
  spawn.stderr_path = Path("init.stderr");
  process_ = std::make_unique<ChildProcess>(spawn);
}

pid_t Node::InitPid() {
  if (init_pid_ != 0 || !process_) return init_pid_;
  if (options_.mode == InitMode::kSubreaper) return init_pid_ = process_->pid();
  // unshare forks, and its child execs zlayer-init.
  WaitUntil([this] {
    for (pid_t child : ChildrenOf(process_->pid())) {
      std::vector<std::string> argv = ProcArgv(child);
      if (!argv.empty() && argv[0] == InitBinary()) {
        init_pid_ = child;
        return true;
      }
    }
    return !process_->Running();
  });
  return init_pid_;
}

pid_t Node::SlotPid(Slot slot) {
  pid_t init = InitPid();
  if (init == 0) return 0;
  const std::string script = ScriptPath(slot);
  for (pid_t child : ChildrenOf(init)) {
    std::vector<std::string> argv = ProcArgv(child);
    if (argv.size() >= 2 && argv[1] == script && IsAlive(child)) return child;
  }
  return 0;
}

pid_t Node::ChildRunning(const std::string& program) {
  pid_t init = InitPid();
  if (init == 0) return 0;
  for (pid_t child : ChildrenOf(init)) {
    std::vector<std::string> argv = ProcArgv(child);
    if (!argv.empty() && argv[0].ends_with(program) && IsAlive(child)) return child;
  }
  return 0;
}

pid_t Node::WaitForSlot(Slot slot, pid_t not_this) {
  pid_t found = 0;
  WaitUntil([&] {
    found = SlotPid(slot);
    return found != 0 && found != not_this;
  });
  return found != not_this ? found : 0;
}

std::vector<pid_t> Node::Descendants() {
  pid_t init = InitPid();
  return init == 0 ? std::vector<pid_t>{} : DescendantsOf(init);
}

void Node::Signal(int sig) {
  pid_t init = InitPid();
  if (init != 0) kill(init, sig);
}

std::optional<ExitStatus> Node::Wait(std::chrono::milliseconds timeout) {
  if (!process_) return std::nullopt;
  return process_->Wait(timeout);
}

bool Node::Running() { return process_ && process_->Running(); }

std::string Node::Stdout() const { return ReadFile(Path("init.stdout")); }
std::string Node::Stderr() const { return ReadFile(Path("init.stderr")); }

int Node::CountLogLines(const std::string& text) const {
  return CountLinesContaining(Stdout(), text) + CountLinesContaining(Stderr(), text);
}

bool Node::WaitForLog(const std::string& text, int count, std::chrono::milliseconds timeout) const {
  return WaitUntil([&] { return CountLogLines(text) >= count; }, timeout);
}

std::vector<Event> Node::Events() const {
  std::vector<Event> events;
  for (const std::string& line : ReadLines(Path("events"))) {
    std::vector<std::string> words = SplitWords(line);
    if (words.size() != 2) continue;
    events.push_back({words[0], std::stoll(words[1])});
  }
  return events;
}

std::vector<Event> Node::EventsNamed(const std::string& name) const {
  std::vector<Event> events = Events();
  std::erase_if(events, [&](const Event& e) { return e.name != name; });
  return events;
}

bool Node::WaitForEvent(const std::string& name, int count,
                        std::chrono::milliseconds timeout) const {
  return WaitUntil([&] { return CountEvents(name) >= count; }, timeout);
}

int Node::EventIndex(const std::string& name) const {
  std::vector<Event> events = Events();
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

int Node::Starts(Slot slot) const {
  return static_cast<int>(ReadLines(Path(std::string(SlotName(slot)) + ".starts")).size());
}

std::vector<pid_t> Node::Leftovers() const {
  std::vector<pid_t> found = ProcessesMentioning(dir_.path() + "/");
  // unshare itself mentions the directory until it has passed on the status.
  if (process_ && process_->Running()) std::erase(found, process_->pid());
  return found;
}

bool Node::StartAndWaitUntilUp() {
  Start();
  return WaitForEvent("containerd-idle") && WaitForEvent("agent-idle") &&
         WaitForLog("zlayer-agent is ready");
}

void Node::DumpDiagnostics() const {
  std::cerr << "---- zlayer-init " << ToString(options_.mode) << " in " << dir_.path() << " (argv:";
  for (const std::string& arg : options_.args) std::cerr << ' ' << arg;
  std::cerr << ")\n  stdout (tail):\n"
            << ReadTail(Path("init.stdout"), 60) << "  stderr (tail):\n"
            << ReadTail(Path("init.stderr"), 120) << "  events:\n"
            << ReadTail(Path("events"), 200) << "----\n";
}

double MillisBetween(const Event& a, const Event& b) {
  return static_cast<double>(b.unix_ns - a.unix_ns) / 1e6;
}

}  // namespace zlayer::testing
