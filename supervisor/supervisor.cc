#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <vector>

#include "common/duration.h"
#include "common/sd_notify.h"
#include "common/shutdown.h"
#include "common/supervised_children.h"
#include "supervisor/line_prefixer.h"
#include "supervisor/notify_message.h"
#include "supervisor/notify_socket.h"
#include "supervisor/process_table.h"
#include "supervisor/restart_tracker.h"
#include "supervisor/spawn.h"

namespace zlayer::init {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&set, s);
  sigaddset(&set, SIGRTMIN + 3);  // what `docker stop` sends to systemd-style images
  return set;
}

namespace {

bool IsShutdownSignal(int s) {
  return s == SIGTERM || s == SIGINT || s == SIGQUIT || s == SIGHUP || s == SIGRTMIN + 3;
}

// Copies one child output pipe to our stdout or stderr, line by line with the
// child's name in front. Keeps itself alive while reads are pending; the pipe
// may outlive the child (grandchildren such as shims inherit it).
class OutputRelay : public std::enable_shared_from_this<OutputRelay> {
 public:
  OutputRelay(asio::io_context& io, int read_fd, const std::string& name, int out_fd)
      : pipe_(io, read_fd),
        prefixer_(name, [out_fd](std::string_view line) { WriteAll(out_fd, line); }) {}

  void Start() {
    pipe_.async_read_some(asio::buffer(buffer_),
                          [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                            if (n > 0) self->prefixer_.Feed(std::string_view(self->buffer_, n));
                            if (ec) {
                              self->prefixer_.Flush();
                              return;  // EOF: every writer is gone
                            }
                            self->Start();
                          });
  }

 private:
  asio::posix::stream_descriptor pipe_;
  LinePrefixer prefixer_;
  char buffer_[8192];
};

}  // namespace

class Supervisor::Impl {
 public:
  Impl(SupervisorOptions options, Logger& log)
      : options_(std::move(options)),
        log_(log),
        signals_(io_),
        notify_fd_(io_),
        shutdown_timer_(io_),
        sweep_timer_(io_),
        rng_(std::random_device{}()),
        containerd_(io_, "containerd", MakeTracker()),
        agent_(io_, "zlayer-agent", MakeTracker()),
        dnsmasq_(io_, "dnsmasq", MakeTracker()),
        haproxy_(io_, "haproxy", MakeTracker(/*gives_up=*/false)) {
    containerd_.program = options_.containerd_program;
    containerd_.args = {options_.containerd_program, "--config",
                        options_.config.run_dir + "/containerd.toml"};
    agent_.program = options_.agent_program;
    agent_.args = {options_.agent_program};
    agent_.watchdog_timeout = options_.config.watchdog_timeout;
    agent_.detail = "waiting for containerd";
    if (!options_.dnsmasq_argv.empty()) {
      dnsmasq_.program = options_.dnsmasq_argv.front();
      dnsmasq_.args = options_.dnsmasq_argv;
      dnsmasq_.up_once_started = true;
      dnsmasq_.essential = false;
    }
    if (!options_.haproxy_argv.empty()) {
      haproxy_.program = options_.haproxy_argv.front();
      haproxy_.args = options_.haproxy_argv;
      haproxy_.essential = false;
    }
  }

  int Run();

 private:
  enum class State { kIdle, kStarting, kReady, kBackoff, kStopping };
  enum class Phase {
    kRunning,
    kStoppingAgent,
    kStoppingHaproxy,
    kStoppingContainerd,
    kStoppingDnsmasq,
    kSweeping,
    kDone
  };

  // One managed program and everything we know about its current run.
  struct Slot {
    Slot(asio::io_context& io, std::string slot_name, RestartTracker tracker)
        : name(std::move(slot_name)),
          restarts(std::move(tracker)),
          start_timer(io),
          watchdog_timer(io),
          restart_timer(io),
          kill_timer(io) {}
    std::string name;
    std::string program;
    std::vector<std::string> args;
    State state = State::kIdle;
    pid_t pid = 0;
    uint64_t run = 0;  // increases per start; timer handlers of older runs do nothing
    bool start_timed_out = false;
    bool watchdog_expired = false;
    nanoseconds watchdog_timeout{0};
    // Sends no READY=1 (dnsmasq): up once started.
    bool up_once_started = false;
    // false (dnsmasq, haproxy): restarted forever, also when it never became
    // ready or cannot be started at all; its failures never shut the node down.
    bool essential = true;
    // Sent RELOADING=1 and no READY=1 since (HAProxy during a reload). Still up.
    bool reloading = false;
    std::optional<std::string> last_status;
    std::string detail = "not started";  // why it is up or down, for the children file
    RestartTracker restarts;
    asio::steady_timer start_timer, watchdog_timer, restart_timer, kill_timer;
  };

  // gives_up = false: never gives up on a program that does not become ready.
  RestartTracker MakeTracker(bool gives_up = true) {
    RestartPolicy policy;
    policy.start_limit = gives_up ? options_.config.restart_limit : std::numeric_limits<int>::max();
    return RestartTracker(
        policy, [this] { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); });
  }

  Status Setup();
  void WaitForSignals();
  void OnSignal(int signal);
  void WaitForNotifications();
  void OnNotification(const NotifySocket::Datagram& datagram);
  void HandleMessage(Slot& slot, const NotifyMessage& message,
                     const std::vector<ProcessInfo>& table);
  void Reap();
  void OnExit(pid_t pid, int wait_status);
  void OnSlotExit(Slot& slot, int wait_status);

  void Start(Slot& slot);
  void OnReady(Slot& slot);
  void ArmStartTimer(Slot& slot, nanoseconds timeout);
  void ArmWatchdog(Slot& slot);
  void OnWatchdogExpired(Slot& slot);
  void KillLater(Slot& slot, nanoseconds after, const char* why);
  // Backs off, then starts `slot` again (or leaves the agent waiting for containerd).
  void RestartLater(Slot& slot, const RestartTracker::Decision& decision, const std::string& how);
  // The slots that run, in start order.
  std::vector<Slot*> Slots();
  // The slots whose programs get NOTIFY_SOCKET (dnsmasq does not).
  std::vector<Slot*> NotifyingSlots() { return {&containerd_, &agent_, &haproxy_}; }
  void Signal(pid_t pid, int signal, const std::string& who);
  void StartDeploy();
  Environment ChildEnvironment(const Slot* slot) const;
  Status RelayOutput(const std::string& name, int* child_stdout, int* child_stderr);
  // Starts `program` with its stdout/stderr relayed under `name`.
  Result<pid_t> SpawnRelayed(const std::string& name, const std::string& program,
                             std::vector<std::string> argv, Environment env);
  void WritePidFile(const Slot& slot) const;
  // Rewrites <run dir>/children with every slot's up/down state (see
  // common/supervised_children.h). Called on every change of a slot.
  void PublishChildren() const;
  void RemovePidFile(const Slot& slot) const;

  void BeginShutdown(const std::string& reason, int exit_code);
  void StopSlotPhase(Slot& slot, double reserve_fraction);
  void AdvanceShutdown();
  void Sweep();
  void SweepPoll();
  std::vector<ProcessInfo> RemainingProcesses() const;
  void Finish();

  SupervisorOptions options_;
  Logger& log_;
  asio::io_context io_;
  asio::posix::stream_descriptor signals_;
  std::optional<NotifySocket> notify_;
  asio::posix::stream_descriptor notify_fd_;
  asio::steady_timer shutdown_timer_;
  asio::steady_timer sweep_timer_;
  std::mt19937 rng_;
  Slot containerd_;
  Slot agent_;
  Slot dnsmasq_;
  Slot haproxy_;

  Phase phase_ = Phase::kRunning;
  int exit_code_ = 0;
  Clock::time_point deadline_{};
  bool sweep_killed_ = false;
  bool agent_waits_for_containerd_ = false;
  bool node_ready_announced_ = false;
  pid_t deploy_pid_ = 0;
  bool deploy_started_ = false;
};

int Supervisor::Impl::Run() {
  if (Status s = Setup(); !s.ok()) {
    log_.Error("{}", s.message());
    return 1;
  }
  PublishChildren();
  Start(containerd_);
  if (!dnsmasq_.program.empty()) Start(dnsmasq_);
  if (!haproxy_.program.empty()) Start(haproxy_);
  io_.run();
  return exit_code_;
}

Status Supervisor::Impl::Setup() {
  sigset_t handled = HandledSignals();
  int sfd = ::signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) return ErrnoError("signalfd");
  signals_.assign(sfd);
  WaitForSignals();

  auto notify = NotifySocket::Bind(options_.config.run_dir + "/notify.sock");
  if (!notify.ok()) return notify.status();
  notify_.emplace(std::move(notify).value());
  int dup_fd = ::fcntl(notify_->fd(), F_DUPFD_CLOEXEC, 3);
  if (dup_fd < 0) return ErrnoError("dup notify socket");
  notify_fd_.assign(dup_fd);  // asio owns the duplicate; NotifySocket reads the original
  WaitForNotifications();

  // Children may already have exited (a SIGCHLD that arrived before the
  // signalfd existed is still pending, but reaping once costs nothing).
  Reap();
  return Status::Ok();
}

void Supervisor::Impl::WaitForSignals() {
  signals_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [this](boost::system::error_code ec) {
                        if (ec) return;
                        signalfd_siginfo info{};
                        while (::read(signals_.native_handle(), &info, sizeof(info)) ==
                               static_cast<ssize_t>(sizeof(info))) {
                          OnSignal(static_cast<int>(info.ssi_signo));
                        }
                        if (phase_ != Phase::kDone) WaitForSignals();
                      });
}

void Supervisor::Impl::OnSignal(int signal) {
  if (signal == SIGCHLD) {
    Reap();
  } else if (IsShutdownSignal(signal)) {
    BeginShutdown(SignalName(signal), 0);
  } else {
    for (Slot* slot : {&containerd_, &agent_}) {
      if (slot->pid > 0) {
        log_.Debug("forwarding {} to {} (pid {})", SignalName(signal), slot->name, slot->pid);
        Signal(slot->pid, signal, slot->name);
      }
    }
  }
}

void Supervisor::Impl::WaitForNotifications() {
  notify_fd_.async_wait(asio::posix::stream_descriptor::wait_read,
                        [this](boost::system::error_code ec) {
                          if (ec) return;
                          for (;;) {
                            auto datagram = notify_->Receive();
                            if (!datagram.ok()) {
                              log_.Warn("{}", datagram.status().message());
                              break;
                            }
                            if (!datagram->has_value()) break;
                            OnNotification(**datagram);
                          }
                          if (phase_ != Phase::kDone) WaitForNotifications();
                        });
}

void Supervisor::Impl::OnNotification(const NotifySocket::Datagram& datagram) {
  NotifyMessage message = ParseNotifyMessage(datagram.text);
  std::vector<ProcessInfo> table;
  Slot* owner = nullptr;
  for (Slot* slot : NotifyingSlots()) {
    if (slot->pid > 0 && slot->pid == datagram.sender) owner = slot;
  }
  if (owner == nullptr && datagram.sender > 0) {
    // NotifyAccess=all: descendants of a managed program (systemd-notify from
    // a script, a forked daemon) speak for it.
    table = ListProcesses();
    for (Slot* slot : NotifyingSlots()) {
      if (slot->pid > 0 && IsSelfOrDescendant(table, datagram.sender, slot->pid)) owner = slot;
    }
  }
  if (owner == nullptr) {
    log_.Debug("ignored a notification from pid {}, which is no managed process", datagram.sender);
    return;
  }
  if (message.main_pid && table.empty()) table = ListProcesses();
  HandleMessage(*owner, message, table);
}

void Supervisor::Impl::HandleMessage(Slot& slot, const NotifyMessage& message,
                                     const std::vector<ProcessInfo>& table) {
  if (message.main_pid && *message.main_pid != slot.pid) {
    if (IsSelfOrDescendant(table, *message.main_pid, slot.pid)) {
      log_.Info("{} main pid is now {} (was {})", slot.name, *message.main_pid, slot.pid);
      RemovePidFile(slot);
      slot.pid = *message.main_pid;
      WritePidFile(slot);
    } else {
      log_.Warn("{} named MAINPID={}, which is not one of its processes; ignored", slot.name,
                *message.main_pid);
    }
  }
  if (message.status && message.status != slot.last_status) {
    log_.Info("{} status: {}", slot.name, *message.status);
    slot.last_status = message.status;
  }
  if (message.extend_timeout && slot.state == State::kStarting) {
    log_.Info("{} asked for {} more to start", slot.name, FormatDuration(*message.extend_timeout));
    ArmStartTimer(slot, *message.extend_timeout);
  }
  if (message.reloading && !slot.reloading) {
    // systemd's meaning: reloading its configuration, READY=1 follows. HAProxy
    // -Ws says it at start too. Not a failure: the program stays up.
    slot.reloading = true;
    if (slot.state == State::kReady) {
      log_.Info("{} is reloading (pid {})", slot.name, slot.pid);
      slot.detail = fmt::format("reloading (pid {})", slot.pid);
      PublishChildren();
    }
  }
  if (message.ready && slot.state == State::kStarting) {
    slot.reloading = false;
    OnReady(slot);
  } else if (message.ready && slot.reloading) {
    slot.reloading = false;
    if (slot.state == State::kReady) {
      log_.Info("{} reloaded (pid {})", slot.name, slot.pid);
      slot.detail = fmt::format("ready (pid {})", slot.pid);
      PublishChildren();
    }
  }
  if (message.watchdog_usec) {
    slot.watchdog_timeout = *message.watchdog_usec;
    if (slot.state == State::kReady) ArmWatchdog(slot);
  }
  if (message.watchdog_ping && slot.state == State::kReady) ArmWatchdog(slot);
  if (message.watchdog_trigger) {
    log_.Warn("{} asked for its watchdog to fire (WATCHDOG=trigger)", slot.name);
    OnWatchdogExpired(slot);
  }
  if (message.stopping) log_.Info("{} reports it is stopping", slot.name);
}

void Supervisor::Impl::Reap() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      OnExit(pid, status);
      continue;
    }
    if (pid < 0 && errno == EINTR) continue;
    break;  // 0: children remain but none has exited; ECHILD: no children
  }
}

std::vector<Supervisor::Impl::Slot*> Supervisor::Impl::Slots() {
  std::vector<Slot*> slots = {&containerd_, &agent_};
  if (!dnsmasq_.program.empty()) slots.push_back(&dnsmasq_);
  if (!haproxy_.program.empty()) slots.push_back(&haproxy_);
  return slots;
}

void Supervisor::Impl::OnExit(pid_t pid, int wait_status) {
  for (Slot* slot : Slots()) {
    if (slot->pid == pid) return OnSlotExit(*slot, wait_status);
  }
  if (pid == deploy_pid_) {
    deploy_pid_ = 0;
    if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) {
      log_.Info("deployed {}", *options_.deploy_spec);
    } else {
      log_.Error("deploying {} failed: zlayer {}; the node keeps running", *options_.deploy_spec,
                 DescribeWaitStatus(wait_status));
    }
    return;
  }
  log_.Debug("reaped orphan pid {} ({})", pid, DescribeWaitStatus(wait_status));
}

void Supervisor::Impl::OnSlotExit(Slot& slot, int wait_status) {
  const pid_t pid = slot.pid;
  slot.pid = 0;
  slot.start_timer.cancel();
  slot.watchdog_timer.cancel();
  slot.kill_timer.cancel();
  RemovePidFile(slot);

  if (phase_ != Phase::kRunning) {
    log_.Info("{} (pid {}) {}", slot.name, pid, DescribeWaitStatus(wait_status));
    slot.state = State::kIdle;
    slot.detail = "stopped";
    PublishChildren();
    AdvanceShutdown();
    return;
  }

  std::string how = DescribeWaitStatus(wait_status);
  if (slot.watchdog_expired) how += " after missing its watchdog";
  if (slot.start_timed_out) how += " after its start timeout";
  RestartTracker::Decision decision = slot.restarts.OnFailure(Clock::now());
  if (!slot.essential) {
    // Never the node's end, ready before or not: restarted with back-off, forever.
    log_.Warn("{} (pid {}) {}{} (ran {})", slot.name, pid, how,
              slot.up_once_started ? ""
              : decision.was_ready ? ": crashed after being ready"
                                   : ": never became ready",
              FormatDuration(decision.ran_for));
    return RestartLater(slot, decision, how);
  }
  if (decision.was_ready) {
    log_.Warn("{} (pid {}) {}: crashed after being ready (ran {})", slot.name, pid, how,
              FormatDuration(decision.ran_for));
  } else {
    log_.Warn("{} (pid {}) {}: never became ready ({} of {} starts in a row)", slot.name, pid, how,
              decision.starts_without_ready, options_.config.restart_limit);
  }
  if (decision.give_up) {
    log_.Error("{} never became ready in {} starts in a row; giving up", slot.name,
               decision.starts_without_ready);
    slot.state = State::kIdle;
    slot.detail = "gave up: never became ready";
    PublishChildren();
    BeginShutdown(slot.name + " cannot start", 1);
    return;
  }
  RestartLater(slot, decision, how);
}

void Supervisor::Impl::RestartLater(Slot& slot, const RestartTracker::Decision& decision,
                                    const std::string& how) {
  slot.state = State::kBackoff;
  slot.detail = fmt::format("restarting in {} after {}", FormatDuration(decision.delay), how);
  PublishChildren();
  log_.Warn("restarting {} in {} (failure {} in a row)", slot.name, FormatDuration(decision.delay),
            decision.failures_in_a_row);
  slot.restart_timer.expires_after(decision.delay);
  slot.restart_timer.async_wait([this, &slot](boost::system::error_code ec) {
    if (ec || phase_ != Phase::kRunning || slot.state != State::kBackoff) return;
    if (&slot == &agent_ && containerd_.state != State::kReady) {
      slot.state = State::kIdle;
      slot.detail = "waiting for containerd";
      PublishChildren();
      agent_waits_for_containerd_ = true;
      log_.Info("zlayer-agent will start when containerd is ready again");
      return;
    }
    Start(slot);
  });
}

void Supervisor::Impl::Start(Slot& slot) {
  Environment env = ChildEnvironment(&slot);
  if (slot.up_once_started) env.erase("NOTIFY_SOCKET");
  auto pid = SpawnRelayed(slot.name, slot.program, slot.args, std::move(env));
  if (!pid.ok()) {
    log_.Error("cannot start {}: {}", slot.name, pid.status().message());
    slot.detail = "cannot start: " + pid.status().message();
    PublishChildren();
    if (!slot.essential) {
      // Never the node's end: try again later (the program may be installed meanwhile).
      slot.restarts.OnStarted(Clock::now());
      slot.restarts.OnReady();
      return RestartLater(slot, slot.restarts.OnFailure(Clock::now()),
                          "cannot start: " + pid.status().message());
    }
    const bool missing = pid.status().code() == StatusCode::kNotFound ||
                         pid.status().code() == StatusCode::kPermissionDenied;
    BeginShutdown("cannot start " + slot.name, missing ? ExitCodeForStartFailure(pid.status()) : 1);
    return;
  }
  slot.pid = *pid;
  slot.run++;
  slot.state = State::kStarting;
  slot.start_timed_out = false;
  slot.watchdog_expired = false;
  slot.reloading = false;
  slot.last_status.reset();
  slot.restarts.OnStarted(Clock::now());
  slot.detail = fmt::format("starting (pid {})", slot.pid);
  WritePidFile(slot);
  PublishChildren();
  log_.Info("started {} (pid {}): {}", slot.name, slot.pid, slot.program);
  if (slot.up_once_started) {
    slot.state = State::kReady;
    slot.restarts.OnReady();  // so it is restarted forever
    slot.detail = fmt::format("running (pid {})", slot.pid);
    PublishChildren();
    return;
  }
  ArmStartTimer(slot, options_.config.start_timeout);
}

Result<pid_t> Supervisor::Impl::SpawnRelayed(const std::string& name, const std::string& program,
                                             std::vector<std::string> argv, Environment env) {
  int out_fds[2] = {-1, -1};
  int err_fds[2] = {-1, -1};
  if (Status s = RelayOutput(name, out_fds, err_fds); !s.ok()) return s;
  SpawnRequest request;
  request.program = program;
  request.argv = std::move(argv);
  request.env = std::move(env);
  request.signal_mask = options_.child_signal_mask;
  request.stdout_fd = out_fds[1];
  request.stderr_fd = err_fds[1];
  auto pid = Spawn(request);
  // The child has its copies; ours would keep the relays from seeing EOF.
  ::close(out_fds[1]);
  ::close(err_fds[1]);
  return pid;
}

Status Supervisor::Impl::RelayOutput(const std::string& name, int* child_stdout,
                                     int* child_stderr) {
  if (::pipe2(child_stdout, O_CLOEXEC) != 0) return ErrnoError("pipe");
  if (::pipe2(child_stderr, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(child_stdout[0]);
    ::close(child_stdout[1]);
    return ErrnoError("pipe", err);
  }
  std::make_shared<OutputRelay>(io_, child_stdout[0], name, STDOUT_FILENO)->Start();
  std::make_shared<OutputRelay>(io_, child_stderr[0], name, STDERR_FILENO)->Start();
  return Status::Ok();
}

Environment Supervisor::Impl::ChildEnvironment(const Slot* slot) const {
  Environment env = options_.child_environment;
  env["NOTIFY_SOCKET"] = notify_->path();
  env["ZLAYER_SNAPSHOTTER"] = options_.snapshotter;
  if (slot != nullptr && slot->watchdog_timeout > nanoseconds(0)) {
    env["WATCHDOG_USEC"] = std::to_string(
        std::chrono::duration_cast<std::chrono::microseconds>(slot->watchdog_timeout).count());
  }
  return env;
}

void Supervisor::Impl::ArmStartTimer(Slot& slot, nanoseconds timeout) {
  slot.start_timer.expires_after(timeout);
  slot.start_timer.async_wait([this, &slot, run = slot.run, timeout](boost::system::error_code ec) {
    if (ec || slot.run != run || slot.state != State::kStarting || slot.pid <= 0) return;
    if (slot.start_timer.expiry() > Clock::now()) return;  // extended meanwhile
    slot.start_timed_out = true;
    log_.Error("{} (pid {}) did not become ready within {}; stopping it", slot.name, slot.pid,
               FormatDuration(timeout));
    Signal(slot.pid, SIGTERM, slot.name);
    KillLater(slot, std::chrono::seconds(2), "did not stop after SIGTERM");
  });
}

void Supervisor::Impl::OnReady(Slot& slot) {
  slot.start_timer.cancel();
  slot.state = State::kReady;
  slot.restarts.OnReady();
  slot.detail = fmt::format("ready (pid {})", slot.pid);
  PublishChildren();
  log_.Info("{} is ready (pid {})", slot.name, slot.pid);
  if (slot.watchdog_timeout > nanoseconds(0)) ArmWatchdog(slot);
  if (&slot == &containerd_) {
    if (agent_.state == State::kIdle && (agent_.run == 0 || agent_waits_for_containerd_)) {
      agent_waits_for_containerd_ = false;
      Start(agent_);
    }
    return;
  }
  if (&slot != &agent_) return;  // haproxy: nothing waits for it
  if (!node_ready_announced_) {
    node_ready_announced_ = true;
    // When zlayer-init itself runs under systemd (a host install).
    (void)SdNotify(CurrentEnvironment(), "READY=1\nSTATUS=node ready");
    log_.Info("node is ready");
  }
  if (options_.deploy_spec && !deploy_started_) StartDeploy();
}

void Supervisor::Impl::ArmWatchdog(Slot& slot) {
  if (slot.watchdog_timeout <= nanoseconds(0)) return;  // watchdog off
  slot.watchdog_timer.expires_after(slot.watchdog_timeout);
  slot.watchdog_timer.async_wait([this, &slot, run = slot.run](boost::system::error_code ec) {
    if (ec || slot.run != run || slot.state != State::kReady) return;
    if (slot.watchdog_timer.expiry() > Clock::now()) return;  // re-armed by a ping
    OnWatchdogExpired(slot);
  });
}

void Supervisor::Impl::OnWatchdogExpired(Slot& slot) {
  if (slot.pid <= 0 || slot.watchdog_expired || phase_ != Phase::kRunning) return;
  slot.watchdog_expired = true;
  slot.detail = fmt::format("missed its watchdog (pid {})", slot.pid);
  PublishChildren();
  log_.Error("{} (pid {}) missed its watchdog: no WATCHDOG=1 for {}; sending SIGABRT", slot.name,
             slot.pid, FormatDuration(slot.watchdog_timeout));
  Signal(slot.pid, SIGABRT, slot.name);
  KillLater(slot, std::chrono::seconds(5), "did not exit after SIGABRT");
}

void Supervisor::Impl::KillLater(Slot& slot, nanoseconds after, const char* why) {
  slot.kill_timer.expires_after(after);
  slot.kill_timer.async_wait([this, &slot, run = slot.run, why](boost::system::error_code ec) {
    if (ec || slot.run != run || slot.pid <= 0) return;
    log_.Warn("{} (pid {}) {}; sending SIGKILL", slot.name, slot.pid, why);
    Signal(slot.pid, SIGKILL, slot.name);
  });
}

void Supervisor::Impl::Signal(pid_t pid, int signal, const std::string& who) {
  if (::kill(pid, signal) != 0) {
    // ESRCH: it exited and we have not reaped it yet, or it is gone.
    log_.Warn("{} to {} (pid {}): {}", SignalName(signal), who, pid, std::strerror(errno));
  }
}

void Supervisor::Impl::StartDeploy() {
  deploy_started_ = true;
  Environment env = ChildEnvironment(nullptr);
  env.erase("NOTIFY_SOCKET");
  auto pid = SpawnRelayed("zlayer", options_.cli_program,
                          {options_.cli_program, "deploy", "--spec", *options_.deploy_spec},
                          std::move(env));
  if (!pid.ok()) {
    log_.Error("deploy: {}", pid.status().message());
    return;
  }
  deploy_pid_ = *pid;
  log_.Info("deploying {} (zlayer pid {})", *options_.deploy_spec, deploy_pid_);
}

void Supervisor::Impl::WritePidFile(const Slot& slot) const {
  std::ofstream(options_.config.run_dir + "/" + slot.name + ".pid") << slot.pid << "\n";
}

void Supervisor::Impl::RemovePidFile(const Slot& slot) const {
  ::unlink((options_.config.run_dir + "/" + slot.name + ".pid").c_str());
}

void Supervisor::Impl::PublishChildren() const {
  std::vector<SupervisedChild> children;
  std::vector<const Slot*> slots = {&containerd_, &agent_};
  if (!dnsmasq_.program.empty()) slots.push_back(&dnsmasq_);
  if (!haproxy_.program.empty()) slots.push_back(&haproxy_);
  for (const Slot* slot : slots) {
    const bool up = slot->state == State::kReady && !slot->watchdog_expired;
    children.push_back({slot->name, up, slot->detail});
  }
  // A small write to tmpfs, no fsync: cheap enough for the event loop.
  if (Status s = WriteSupervisedChildren(options_.config.run_dir, children); !s.ok()) {
    log_.Warn("cannot publish the children's state: {}", s.message());
  }
}

// --- shutdown -----------------------------------------------------------------

void Supervisor::Impl::BeginShutdown(const std::string& reason, int exit_code) {
  if (phase_ != Phase::kRunning) {
    log_.Info("already shutting down; {} ignored", reason);
    return;
  }
  exit_code_ = exit_code;
  deadline_ = Clock::now() + options_.config.stop_timeout;
  log_.Info("shutting down ({}); deadline {}", reason,
            FormatDuration(options_.config.stop_timeout));
  (void)SdNotify(CurrentEnvironment(), "STOPPING=1");
  for (Slot* slot : Slots()) {
    slot->restart_timer.cancel();
    slot->start_timer.cancel();
    slot->watchdog_timer.cancel();
    slot->kill_timer.cancel();
    if (slot->state == State::kBackoff) slot->state = State::kIdle;
  }
  // Whatever happens below, never outlive the budget by more than a moment.
  shutdown_timer_.expires_at(deadline_ + std::chrono::seconds(1));
  shutdown_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || phase_ == Phase::kDone) return;
    log_.Error("shutdown did not finish within its deadline; exiting anyway");
    Finish();
  });
  phase_ = Phase::kStoppingAgent;
  // The agent stops workloads gracefully, so it gets most of the budget;
  // haproxy, containerd, dnsmasq and the final sweep keep 35% in reserve.
  StopSlotPhase(agent_, 1.0 - kAgentShareOfStopTimeout);
}

void Supervisor::Impl::StopSlotPhase(Slot& slot, double reserve_fraction) {
  if (slot.pid <= 0) {
    AdvanceShutdown();
    return;
  }
  slot.state = State::kStopping;
  slot.detail = "stopping: the node shuts down";
  PublishChildren();
  log_.Info("stopping {} (pid {})", slot.name, slot.pid);
  // By pid only: for containerd this leaves the shims (own process groups)
  // to the sweep, which stops them after their containers.
  Signal(slot.pid, SIGTERM, slot.name);
  auto reserve =
      std::chrono::duration_cast<nanoseconds>(options_.config.stop_timeout * reserve_fraction);
  slot.kill_timer.expires_at(deadline_ - reserve);
  slot.kill_timer.async_wait([this, &slot](boost::system::error_code ec) {
    if (ec || slot.pid <= 0) return;
    log_.Warn("{} (pid {}) did not stop in time; sending SIGKILL", slot.name, slot.pid);
    Signal(slot.pid, SIGKILL, slot.name);
  });
}

void Supervisor::Impl::AdvanceShutdown() {
  if (phase_ == Phase::kStoppingAgent && agent_.pid <= 0) {
    // The agent has drained the ingress; now its proxy can go.
    phase_ = Phase::kStoppingHaproxy;
    StopSlotPhase(haproxy_, 0.25);
    return;
  }
  if (phase_ == Phase::kStoppingHaproxy && haproxy_.pid <= 0) {
    phase_ = Phase::kStoppingContainerd;
    StopSlotPhase(containerd_, 0.15);
    return;
  }
  if (phase_ == Phase::kStoppingContainerd && containerd_.pid <= 0) {
    // The containers' names keep resolving until containerd is gone.
    phase_ = Phase::kStoppingDnsmasq;
    StopSlotPhase(dnsmasq_, 0.10);
    return;
  }
  if (phase_ == Phase::kStoppingDnsmasq && dnsmasq_.pid <= 0) {
    phase_ = Phase::kSweeping;
    Sweep();
  }
}

std::vector<ProcessInfo> Supervisor::Impl::RemainingProcesses() const {
  std::vector<ProcessInfo> table = ListProcesses();
  std::vector<ProcessInfo> remaining;
  const pid_t self = ::getpid();
  // As PID 1, everything in the namespace is ours to stop (docker exec'd
  // processes included); as a subreaper, only our descendants.
  std::vector<ProcessInfo> candidates = self == 1 ? table : Descendants(table, self);
  for (const ProcessInfo& p : candidates) {
    if (p.pid != self && p.state != 'Z') remaining.push_back(p);
  }
  return remaining;
}

void Supervisor::Impl::Sweep() {
  Reap();
  std::vector<ProcessInfo> remaining = RemainingProcesses();
  if (remaining.empty()) return Finish();
  log_.Info("stopping {} remaining process(es)", remaining.size());
  for (const ProcessInfo& p : remaining) ::kill(p.pid, SIGTERM);

  // Poll: these are not our children in general (shims, their containers,
  // docker exec'd processes), so no SIGCHLD tells us when they are gone.
  SweepPoll();
}

void Supervisor::Impl::SweepPoll() {
  Reap();
  std::vector<ProcessInfo> left = RemainingProcesses();
  if (left.empty()) return Finish();
  const bool only_shims = std::all_of(left.begin(), left.end(), [](const ProcessInfo& p) {
    return p.name.rfind("containerd-shim", 0) == 0;
  });
  if (only_shims) {
    // Their containers are gone and containerd is stopped: nothing is left
    // for a shim to report, and shims ignore SIGTERM by design.
    for (const ProcessInfo& p : left) ::kill(p.pid, SIGKILL);
  } else if (!sweep_killed_ && Clock::now() >= deadline_ - std::chrono::milliseconds(150)) {
    sweep_killed_ = true;
    log_.Warn("{} process(es) still running at the deadline; sending SIGKILL", left.size());
    for (const ProcessInfo& p : left) {
      log_.Debug("SIGKILL pid {} ({})", p.pid, p.name);
      ::kill(p.pid, SIGKILL);
    }
  }
  sweep_timer_.expires_after(std::chrono::milliseconds(20));
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) SweepPoll();
  });
}

void Supervisor::Impl::Finish() {
  if (phase_ == Phase::kDone) return;
  phase_ = Phase::kDone;
  log_.Info("shutdown complete");
  io_.stop();
}

Supervisor::Supervisor(SupervisorOptions options, Logger& log)
    : impl_(std::make_unique<Impl>(std::move(options), log)) {}
Supervisor::~Supervisor() = default;
int Supervisor::Run() { return impl_->Run(); }

}  // namespace zlayer::init
