// exec: a bidirectional stream. The main thread reads the process's output; one input
// thread owns every write after `start` (stdin bytes, resizes, forwarded signals), so the
// stream never has two writers.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <thread>

#include "cmd/zlayer/commands.h"

namespace zlayer::cli {

namespace {

using ExecStream = grpc::ClientReaderWriter<v1::ExecRequest, v1::ExecResponse>;

// Puts a terminal into raw mode for its lifetime (keys go to the remote process as they
// are typed, Ctrl-C included), restoring the previous mode on destruction.
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(fd_, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

// Closes a descriptor on destruction.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::optional<v1::TerminalSize> TerminalSizeOf(const Io& io) {
  for (int fd : {io.out, io.in}) {
    winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
      v1::TerminalSize size;
      size.set_width(ws.ws_col);
      size.set_height(ws.ws_row);
      return size;
    }
  }
  return std::nullopt;
}

const char* SignalName(uint32_t signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return nullptr;
  }
}

// Runs until `stop_fd` is readable or the stream refuses a write: forwards stdin (when
// `forward_stdin`), terminal resizes (when `tty`) and SIGINT/SIGTERM/SIGHUP.
void InputLoop(ExecStream& stream, const Io& io, bool forward_stdin, bool tty, int signal_fd,
               int stop_fd) {
  bool stdin_open = forward_stdin;
  std::string buffer(32 * 1024, '\0');
  while (true) {
    pollfd fds[3] = {{stop_fd, POLLIN, 0}, {signal_fd, POLLIN, 0}, {io.in, POLLIN, 0}};
    nfds_t count = stdin_open ? 3 : 2;
    if (::poll(fds, count, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents != 0) return;
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        v1::ExecRequest request;
        if (info.ssi_signo == SIGWINCH) {
          auto size = TerminalSizeOf(io);
          if (!tty || !size) continue;
          *request.mutable_resize() = *size;
        } else if (const char* name = SignalName(info.ssi_signo)) {
          request.set_signal(name);
        } else {
          continue;
        }
        if (!stream.Write(request)) return;
      }
    }
    if (stdin_open && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(io.in, buffer.data(), buffer.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      v1::ExecRequest request;
      if (n > 0) {
        request.set_stdin(std::string(buffer.data(), static_cast<size_t>(n)));
      } else {
        request.mutable_close_stdin();
        stdin_open = false;
      }
      if (!stream.Write(request)) return;
    }
  }
}

}  // namespace

Result<int> RunExec(Context& ctx) {
  const Invocation& inv = ctx.invocation;
  // Blocked before gRPC creates any thread, so these signals reach only the signalfd
  // and are forwarded instead of killing zlayer (which would SIGKILL the process).
  // They stay blocked until zlayer exits.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGWINCH, SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
  if (int err = ::pthread_sigmask(SIG_BLOCK, &signals, nullptr); err != 0) {
    return ErrnoError("exec: block signals", err);
  }
  Fd signal_fd(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  Fd stop_fd(::eventfd(0, EFD_CLOEXEC));
  if (signal_fd.get() < 0 || stop_fd.get() < 0) return ErrnoError("exec: signalfd/eventfd");

  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();

  v1::ExecRequest first;
  v1::ExecStart& start = *first.mutable_start();
  start.set_target(inv.target);
  for (const auto& a : inv.exec_args) start.add_args(a);
  start.set_tty(inv.tty);
  start.set_stdin(inv.interactive);
  for (const auto& e : inv.exec_env) start.add_env(e);
  start.set_working_dir(inv.exec_workdir);
  start.set_user(inv.exec_user);
  if (inv.tty) {
    if (auto size = TerminalSizeOf(ctx.io)) *start.mutable_terminal_size() = *size;
  }

  grpc::ClientContext context;
  SetDeadline(context, ctx.OpenDeadline());
  std::unique_ptr<ExecStream> stream = (*connection)->stub().Exec(&context);
  if (!stream->Write(first)) {
    grpc::Status status = stream->Finish();
    return ctx.RpcError(status, ctx.OpenDeadline());
  }

  std::optional<RawTerminal> raw;
  if (inv.tty && ctx.io.in_is_terminal && inv.interactive) raw.emplace(ctx.io.in);
  std::thread input(InputLoop, std::ref(*stream), std::cref(ctx.io), inv.interactive, inv.tty,
                    signal_fd.get(), stop_fd.get());

  std::optional<v1::ExitStatus> exit;
  v1::ExecResponse response;
  while (stream->Read(&response)) {
    switch (response.response_case()) {
      case v1::ExecResponse::kStdout:
        ctx.io.Write(1, response.stdout());
        break;
      case v1::ExecResponse::kStderr:
        ctx.io.Write(2, response.stderr());
        break;
      case v1::ExecResponse::kExit:
        exit = response.exit();
        break;
      default:
        break;
    }
  }
  uint64_t one = 1;
  if (::write(stop_fd.get(), &one, sizeof one) < 0) {
    context.TryCancel();  // the input thread then fails its next write
  }
  input.join();
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  raw.reset();
  if (exit) return exit->code();
  if (!status.ok()) return ctx.RpcError(status, ctx.OpenDeadline());
  return InternalError("exec: the agent ended the call without the process's exit status");
}

}  // namespace zlayer::cli
