#include "agent/exec/exec_session.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <optional>
#include <thread>

#include "agent/exec/process_spec.h"
#include "agent/logs/fifo_drain.h"
#include "common/executors.h"

namespace zlayer::agent::exec {

namespace {

namespace asio = boost::asio;

// Tasks.Wait is re-issued after this, so no gRPC deadline ends a long session.
constexpr std::chrono::milliseconds kWaitSlice = std::chrono::hours(1);
// How long bytes without a newline wait before they are passed on: short,
// for prompts.
constexpr std::chrono::milliseconds kPartialFlush{5};

class ForwardSink : public logs::LogSink {
 public:
  explicit ForwardSink(std::function<void(logs::Stream, std::string)>& forward)
      : forward_(forward) {}
  void Write(const logs::LogRecord& record) override {
    if (forward_) forward_(record.stream, record.text);
  }

 private:
  std::function<void(logs::Stream, std::string)>& forward_;
};

class Session : public ExecSession, public std::enable_shared_from_this<Session> {
 public:
  Session(const ExecContext& context, asio::thread_pool& files, std::string fifo_dir,
          std::string container_id, ExecOptions options, ExecCallbacks callbacks)
      : context_(context),
        files_(files),
        container_id_(std::move(container_id)),
        exec_id_(NewExecId()),
        options_(std::move(options)),
        callbacks_(std::move(callbacks)),
        sink_(callbacks_.on_output) {
    stdin_path_ = options_.stdin ? fmt::format("{}/{}-stdin", fifo_dir, exec_id_) : "";
    stdout_path_ = fmt::format("{}/{}-stdout", fifo_dir, exec_id_);
    stderr_path_ = options_.tty ? "" : fmt::format("{}/{}-stderr", fifo_dir, exec_id_);
    fifo_dir_ = std::move(fifo_dir);
  }

  // On the loop. The FIFOs are made on the files pool (mkdir, mkfifo touch the file
  // system), opened back on the loop (a non-blocking open of an existing FIFO), and only
  // then does the session's thread run the containerd sequence.
  void Begin() {
    RunOff(
        files_, context_.loop,
        [self = shared_from_this()] {
          Status made = self->MakeFifos();
          if (!made.ok()) self->RemoveFifos();
          return made;
        },
        [self = shared_from_this()](Status made) { self->OpenAndRun(made); });
  }

  void WriteStdin(std::string bytes) override {
    // Bytes that arrive before the FIFO is open wait in the queue (OpenAndRun writes them).
    if (!options_.stdin || finished_ || stdin_close_requested_ || bytes.empty()) return;
    stdin_queue_.push_back(std::move(bytes));
    WriteNext();
  }

  void CloseStdin() override {
    if (!options_.stdin || stdin_close_requested_) return;
    stdin_close_requested_ = true;
    WriteNext();
  }

  Status Resize(uint32_t width, uint32_t height) override {
    if (!options_.tty) {
      return FailedPreconditionError(
          fmt::format("exec in {}: resize needs a terminal (tty)", container_id_));
    }
    if (!started_ || finished_) return Status::Ok();
    OnPool([width, height](Session& s) {
      return s.context_.tasks.ResizePty(s.container_id_, s.exec_id_, width, height);
    });
    return Status::Ok();
  }

  void Signal(int signal) override {
    if (!started_ || finished_) return;
    OnPool([signal](Session& s) {
      return s.context_.tasks.KillTask(s.container_id_, s.exec_id_, signal, false);
    });
  }

  void Kill() override {
    kill_requested_ = true;
    if (running_ && !finished_) {
      OnPool([](Session& s) {
        return s.context_.tasks.KillTask(s.container_id_, s.exec_id_, SIGKILL, false);
      });
    }
  }

 private:
  Status Wrap(const Status& status) const {
    return status.Wrap(fmt::format("exec in {}", container_id_));
  }

  // On the files pool.
  Status MakeFifos() {
    if (::mkdir(fifo_dir_.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoError(fmt::format("mkdir {}", fifo_dir_));
    }
    for (const std::string* path : {&stdin_path_, &stdout_path_, &stderr_path_}) {
      if (!path->empty() && ::mkfifo(path->c_str(), 0600) != 0 && errno != EEXIST) {
        return ErrnoError(fmt::format("mkfifo {}", *path));
      }
    }
    return Status::Ok();
  }

  // On the loop: opens the FIFOs MakeFifos made, then hands the containerd sequence to the
  // session's thread; on any error the session finishes with it (FIFOs removed on the
  // files pool).
  void OpenAndRun(Status made) {
    Status opened = made.ok() ? OpenFifos() : made;
    if (!opened.ok()) {
      RunOff(
          files_, context_.loop, [self = shared_from_this()] { self->RemoveFifos(); },
          [self = shared_from_this(), opened] { self->Finish(self->Wrap(opened)); });
      return;
    }
    WriteNext();  // stdin that arrived while the FIFOs were being made
    std::thread([self = shared_from_this()] { self->RunBlocking(); }).detach();
  }

  // On the loop. The FIFOs exist (MakeFifos); opening one never blocks.
  Status OpenFifos() {
    logs::FifoDrainOptions drain;
    drain.logger = context_.log;
    drain.partial_flush_after = kPartialFlush;
    auto out =
        logs::FifoDrain::Open(context_.loop, stdout_path_, logs::Stream::kStdout, sink_, drain);
    if (!out.ok()) return out.status();
    out_ = std::move(*out);
    if (!stderr_path_.empty()) {
      auto err =
          logs::FifoDrain::Open(context_.loop, stderr_path_, logs::Stream::kStderr, sink_, drain);
      if (!err.ok()) return err.status();
      err_ = std::move(*err);
    }
    if (!stdin_path_.empty()) {
      // O_RDWR never blocks and never fails with ENXIO before the shim opens
      // its read end (containerd-client-notes.md §9).
      const int fd = ::open(stdin_path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) return ErrnoError(fmt::format("open {}", stdin_path_));
      stdin_.emplace(context_.loop, fd);
    }
    return Status::Ok();
  }

  void RemoveFifos() {
    for (const std::string* path : {&stdin_path_, &stdout_path_, &stderr_path_}) {
      if (!path->empty()) ::unlink(path->c_str());
    }
  }

  // On the session's thread: the blocking containerd sequence.
  Result<int> Execute() {
    containerd::Tasks& tasks = context_.tasks;
    auto container = context_.containers.GetContainer(container_id_);
    if (!container.ok()) return container.status();
    ProcessOverrides overrides;
    overrides.args = options_.args;
    overrides.terminal = options_.tty;
    overrides.env = options_.env;
    overrides.cwd = options_.working_dir;
    overrides.user = options_.user;
    auto process = ExecProcessJson(container->spec_json, overrides);
    if (!process.ok()) return process.status();
    containerd::ExecRequest request;
    request.container_id = container_id_;
    request.exec_id = exec_id_;
    request.process_json = *process;
    request.stdin_path = stdin_path_;
    request.stdout_path = stdout_path_;
    request.stderr_path = stderr_path_;
    request.terminal = options_.tty;
    if (Status s = tasks.Exec(request); !s.ok()) {
      if (s.code() == StatusCode::kNotFound) {
        return FailedPreconditionError("the replica has no running task: " + s.message());
      }
      return s;
    }
    auto pid = tasks.StartTask(container_id_, exec_id_);
    if (!pid.ok()) {
      (void)tasks.DeleteProcess(container_id_, exec_id_);
      // runc could not start args[0] (not found, not executable, ...).
      return InvalidArgumentError(pid.status().message());
    }
    running_ = true;
    if (kill_requested_) (void)tasks.KillTask(container_id_, exec_id_, SIGKILL, false);
    if (options_.tty && options_.width > 0 && options_.height > 0) {
      (void)tasks.ResizePty(container_id_, exec_id_, options_.width, options_.height);
    }
    asio::post(context_.loop, [self = shared_from_this(), pid = *pid] { self->OnStarted(pid); });
    auto exit = tasks.WaitProcess(container_id_, exec_id_, kWaitSlice);
    while (!exit.ok() && exit.status().code() == StatusCode::kDeadlineExceeded) {
      exit = tasks.WaitProcess(container_id_, exec_id_, kWaitSlice);
    }
    // Waits for the shim to copy the last output into the FIFOs, too.
    auto deleted = tasks.DeleteProcess(container_id_, exec_id_);
    if (!exit.ok()) return exit.status();
    if (!deleted.ok() && context_.log) {
      context_.log->Warn("exec in {}: {}", container_id_, deleted.status().message());
    }
    return static_cast<int>(exit->exit_status);
  }

  void RunBlocking() {
    Result<int> result = Execute();
    if (!result.ok()) result = Wrap(result.status());
    RemoveFifos();
    asio::post(context_.loop, [self = shared_from_this(), result = std::move(result)]() mutable {
      self->Finish(std::move(result));
    });
  }

  // On the loop.
  void OnStarted(pid_t pid) {
    started_ = true;
    if (callbacks_.on_started && !finished_) callbacks_.on_started(container_id_, exec_id_, pid);
    WriteNext();  // a CloseStdin asked for before the start
  }

  void WriteNext() {
    if (!stdin_ || writing_) return;
    if (stdin_queue_.empty()) {
      if (stdin_close_requested_ && started_ && !stdin_closed_) {
        stdin_closed_ = true;
        boost::system::error_code ignored;
        stdin_->close(ignored);
        // The shim holds its own write end: the process sees EOF only after
        // CloseIO.
        OnPool([](Session& s) { return s.context_.tasks.CloseStdin(s.container_id_, s.exec_id_); });
      }
      return;
    }
    writing_ = true;
    asio::async_write(*stdin_, asio::buffer(stdin_queue_.front()),
                      [self = shared_from_this()](const boost::system::error_code& error, size_t) {
                        self->writing_ = false;
                        if (error) {
                          self->stdin_queue_.clear();
                          return;
                        }
                        self->stdin_queue_.pop_front();
                        self->WriteNext();
                      });
  }

  template <typename Call>
  void OnPool(Call call) {
    asio::post(context_.pool, [self = shared_from_this(), call] {
      Status status = call(*self);
      if (!status.ok() && status.code() != StatusCode::kNotFound && self->context_.log) {
        self->context_.log->Warn("exec in {}: {}", self->container_id_, status.message());
      }
    });
  }

  void Finish(Result<int> result) {
    if (out_) out_->Close();
    if (err_) err_->Close();
    if (stdin_) {
      boost::system::error_code ignored;
      stdin_->close(ignored);
    }
    finished_ = true;
    auto on_exit = std::move(callbacks_.on_exit);
    callbacks_.on_output = nullptr;
    callbacks_.on_started = nullptr;
    if (on_exit) on_exit(std::move(result));
  }

  const ExecContext context_;
  asio::thread_pool& files_;
  std::string fifo_dir_;
  const std::string container_id_;
  const std::string exec_id_;
  const ExecOptions options_;
  ExecCallbacks callbacks_;
  ForwardSink sink_;
  std::string stdin_path_, stdout_path_, stderr_path_;
  std::unique_ptr<logs::FifoDrain> out_, err_;
  std::optional<asio::posix::stream_descriptor> stdin_;
  std::deque<std::string> stdin_queue_;
  bool writing_ = false;
  bool stdin_close_requested_ = false;
  bool stdin_closed_ = false;
  bool started_ = false;
  bool finished_ = false;
  // Shared with the session's thread.
  std::atomic<bool> kill_requested_{false};
  std::atomic<bool> running_{false};
};

}  // namespace

std::shared_ptr<ExecSession> ExecSession::Start(const ExecContext& context,
                                                asio::thread_pool& files, std::string fifo_dir,
                                                std::string container_id, ExecOptions options,
                                                ExecCallbacks callbacks) {
  auto session =
      std::make_shared<Session>(context, files, std::move(fifo_dir), std::move(container_id),
                                std::move(options), std::move(callbacks));
  session->Begin();
  return session;
}

}  // namespace zlayer::agent::exec
