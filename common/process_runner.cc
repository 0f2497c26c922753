#include "common/process_runner.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/process/args.hpp>
#include <boost/process/async_pipe.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <csignal>
#include <optional>
#include <system_error>

namespace zlayer {
namespace {

namespace asio = boost::asio;
namespace bp = boost::process;

// Runs in the child between fork and execve: only async-signal-safe calls.
struct ChildSetup {
  template <typename Executor>
  void operator()(Executor&) const {
    // The agent's dispositions (SIGPIPE ignored) and mask must not leak into the program.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Its own group, so a deadline kill reaches its children (bridge runs host-local).
    setpgid(0, 0);
    // Other runs' pipe ends (Boost's async_pipe is not close-on-exec) and every other
    // agent descriptor stay out of the program; a stray write end would delay another
    // run's end of file until this program exits.
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  }
};

// Runs in the parent when the launch failed. When execve failed, Boost.Process v1
// has forked a child that reports the error and exits, and leaves it unreaped:
// keep its pid so that it does not stay a zombie.
struct NoteFailedChild {
  pid_t* pid;
  template <typename Executor>
  void operator()(Executor& exec, const std::error_code&) const {
    *pid = exec.pid;
  }
};

Status ErrorCodeStatus(const std::string& what, const std::error_code& ec) {
  return ErrnoError(what, ec.value());
}

class Launch : public std::enable_shared_from_this<Launch> {
 public:
  Launch(asio::io_context& io, ProcessRequest request, ProcessCallback done)
      : io_(io),
        request_(std::move(request)),
        done_(std::move(done)),
        in_(io),
        out_(io),
        err_(io),
        pidfd_(io),
        timer_(io) {}

  ~Launch() {
    // Only when the io_context is destroyed with the run in flight.
    if (pid_ > 0 && !reaped_) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  void Start() {
    const std::string& program = request_.program;
    bp::environment env;
    for (const auto& [name, value] : request_.env) env[name] = value;
    std::error_code ec;
    pid_t failed_pid = -1;
    bp::child child(bp::exe = program, bp::args = request_.args, env, (bp::std_in < in_),
                    (bp::std_out > out_), (bp::std_err > err_),
                    bp::extend::on_exec_setup = ChildSetup{},
                    bp::extend::on_error = NoteFailedChild{&failed_pid}, ec);
    if (ec) {
      if (failed_pid > 0) {
        // It has reported the error and is exiting now: this wait is immediate.
        int status = 0;
        ::waitpid(failed_pid, &status, 0);
      }
      return Finish(ErrorCodeStatus("run " + program, ec));
    }
    pid_ = child.id();
    child.detach();  // we reap it ourselves; ~child must not wait or kill

    // syscall(2): glibc 2.36's <sys/pidfd.h> lacks extern "C" and does not link from C++.
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (fd < 0) {
      Status status = ErrnoError("run " + program + ": pidfd_open");
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      int wstatus = 0;
      ::waitpid(pid_, &wstatus, 0);
      reaped_ = true;
      return Finish(std::move(status));
    }
    pidfd_.assign(fd);
    for (auto* pipe : {&in_, &out_, &err_}) {
      for (int end : {pipe->native_source(), pipe->native_sink()}) {
        if (end >= 0) ::fcntl(end, F_SETFD, FD_CLOEXEC);
      }
    }

    auto self = shared_from_this();
    timer_.expires_after(request_.timeout);
    timer_.async_wait([self](boost::system::error_code ec) {
      if (!ec) self->OnDeadline();
    });
    WriteStdin();
    Read(out_, result_.stdout_data, out_open_);
    Read(err_, result_.stderr_data, err_open_);
    WaitExit();
  }

 private:
  void WriteStdin() {
    if (request_.stdin_data.empty()) {
      boost::system::error_code ignored;
      in_.close(ignored);
      return;
    }
    auto self = shared_from_this();
    asio::async_write(in_, asio::buffer(request_.stdin_data),
                      [self](boost::system::error_code, size_t) {
                        // EPIPE: the program did not read its input; its exit says the rest.
                        boost::system::error_code ignored;
                        self->in_.close(ignored);
                      });
  }

  void Read(bp::async_pipe& pipe, std::string& into, bool& open) {
    auto self = shared_from_this();
    pipe.async_read_some(asio::buffer(chunk(&pipe)), [self, &pipe, &into, &open](
                                                         boost::system::error_code ec, size_t n) {
      size_t room = self->request_.max_output - std::min(into.size(), self->request_.max_output);
      into.append(self->chunk(&pipe).data(), std::min(n, room));
      if (ec) {
        if (ec != asio::error::eof && ec != asio::error::operation_aborted && !self->io_error_) {
          self->io_error_ = ec;
        }
        open = false;
        boost::system::error_code ignored;
        pipe.close(ignored);
        return self->MaybeFinish();
      }
      self->Read(pipe, into, open);
    });
  }

  std::array<char, 16384>& chunk(const bp::async_pipe* pipe) {
    return pipe == &out_ ? out_chunk_ : err_chunk_;
  }

  void WaitExit() {
    auto self = shared_from_this();
    pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [self](boost::system::error_code ec) { self->OnExitReadable(ec); });
  }

  void OnExitReadable(boost::system::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    int status = 0;
    pid_t r = 0;
    if (ec) {
      // The pidfd cannot be watched: end the program and wait for it (immediate
      // after SIGKILL) rather than spin or leave it behind.
      exit_error_ = ErrnoError("run " + request_.program + ": wait for exit", ec.value());
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      r = ::waitpid(pid_, &status, 0);
    } else {
      r = ::waitpid(pid_, &status, WNOHANG);
      if (r == 0) return WaitExit();  // not yet (a pidfd is readable only after the exit)
    }
    reaped_ = true;
    boost::system::error_code ignored;
    pidfd_.close(ignored);
    if (exit_error_) {
      // reported as it is
    } else if (r < 0) {
      exit_error_ = ErrnoError("run " + request_.program + ": waitpid");
    } else if (WIFSIGNALED(status)) {
      result_.term_signal = WTERMSIG(status);
      result_.exit_code = 128 + WTERMSIG(status);
    } else {
      result_.exit_code = WEXITSTATUS(status);
    }
    MaybeFinish();
  }

  void OnDeadline() {
    if (finished_) return;
    timed_out_ = true;
    if (!reaped_) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
    }
    // A grandchild may still hold the output pipes: stop reading them. The exit
    // (certain after SIGKILL) is still awaited so the child is reaped.
    boost::system::error_code ignored;
    in_.close(ignored);
    out_.close(ignored);
    err_.close(ignored);
  }

  void MaybeFinish() {
    if (finished_ || !reaped_ || out_open_ || err_open_) return;
    timer_.cancel();
    if (timed_out_) {
      return Finish(DeadlineExceededError(fmt::format("run {}: did not finish within {} ms; killed",
                                                      request_.program, request_.timeout.count())));
    }
    if (exit_error_) return Finish(*exit_error_);
    if (io_error_) {
      return Finish(ErrnoError("run " + request_.program + ": read output", io_error_.value()));
    }
    Finish(std::move(result_));
  }

  void Finish(Result<ProcessResult> outcome) {
    finished_ = true;
    asio::post(io_, [done = std::move(done_), outcome = std::move(outcome)]() mutable {
      done(std::move(outcome));
    });
  }

  asio::io_context& io_;
  ProcessRequest request_;
  ProcessCallback done_;
  bp::async_pipe in_, out_, err_;
  asio::posix::stream_descriptor pidfd_;
  asio::steady_timer timer_;
  std::array<char, 16384> out_chunk_{}, err_chunk_{};
  pid_t pid_ = -1;
  bool reaped_ = false;
  bool out_open_ = true;
  bool err_open_ = true;
  bool timed_out_ = false;
  bool finished_ = false;
  boost::system::error_code io_error_;
  std::optional<Status> exit_error_;
  ProcessResult result_;
};

}  // namespace

AsioProcessRunner::AsioProcessRunner(boost::asio::io_context& io) : io_(io) {
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    ::signal(SIGPIPE, SIG_IGN);
  }
}

void AsioProcessRunner::Run(ProcessRequest request, ProcessCallback done) {
  std::shared_ptr<Launch> run;
  try {
    run = std::make_shared<Launch>(io_, request, done);
  } catch (const std::system_error& e) {  // pipe(2) failed, e.g. EMFILE
    Status status = ErrnoError("run " + request.program + ": pipe", e.code().value());
    boost::asio::post(io_, [done = std::move(done), status]() { done(status); });
    return;
  }
  run->Start();
}

}  // namespace zlayer
