#include "agent/api/exec_reactor.h"

#include <signal.h>
#include <string.h>

#include <boost/asio/post.hpp>
#include <charconv>
#include <deque>
#include <memory>
#include <mutex>

#include "agent/api/agent_service.h"
#include "agent/node/node.h"

namespace zlayer::api {
namespace {

namespace asio = boost::asio;
namespace v1 = zlayer::v1;

std::string SignalName(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev ? std::string("SIG") + abbrev : "";
}

class ExecReactor : public grpc::ServerBidiReactor<v1::ExecRequest, v1::ExecResponse> {
 public:
  explicit ExecReactor(agent::node::Node& agent)
      : agent_(agent), shared_(std::make_shared<Shared>()) {
    shared_->reactor = this;
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Half-close (or the call is gone): no more input, stdin ends.
      OnLoop([](Loop& loop) {
        if (loop.session) loop.session->CloseStdin();
      });
      return;
    }
    if (!started_request_) {
      started_request_ = true;
      if (!request_.has_start()) {
        return Fail(grpc::StatusCode::INVALID_ARGUMENT, "exec: the first message must be start");
      }
      if (request_.start().args().empty()) {
        return Fail(grpc::StatusCode::INVALID_ARGUMENT, "exec: no command given");
      }
      tty_ = request_.start().tty();
      Begin(request_.start());
    } else {
      switch (request_.request_case()) {
        case v1::ExecRequest::kStdin:
          OnLoop([bytes = request_.stdin()](Loop& loop) {
            if (loop.session) loop.session->WriteStdin(bytes);
          });
          break;
        case v1::ExecRequest::kCloseStdin:
          OnLoop([](Loop& loop) {
            if (loop.session) loop.session->CloseStdin();
          });
          break;
        case v1::ExecRequest::kResize:
          if (!tty_) return Fail(grpc::StatusCode::INVALID_ARGUMENT, "exec: resize without tty");
          OnLoop([size = request_.resize()](Loop& loop) {
            if (loop.session) (void)loop.session->Resize(size.width(), size.height());
          });
          break;
        case v1::ExecRequest::kSignal: {
          const int signal = ParseSignal(request_.signal());
          if (signal == 0) {
            return Fail(grpc::StatusCode::INVALID_ARGUMENT,
                        "exec: unknown signal \"" + request_.signal() + "\"");
          }
          OnLoop([signal](Loop& loop) {
            if (loop.session) loop.session->Signal(signal);
          });
          break;
        }
        case v1::ExecRequest::kStart:
          return Fail(grpc::StatusCode::INVALID_ARGUMENT, "exec: start sent twice");
        case v1::ExecRequest::REQUEST_NOT_SET:
          break;
      }
    }
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(shared_->mu);
    writing_ = false;
    if (!queue_.empty()) queue_.pop_front();
    if (!ok) cancelled_ = true;
    WriteNextLocked();
  }

  void OnCancel() override {
    {
      std::lock_guard lock(shared_->mu);
      cancelled_ = true;
      WriteNextLocked();
    }
    OnLoop([](Loop& loop) {
      loop.cancelled = true;  // a session started after this is killed at once
      if (loop.session) loop.session->Kill();
    });
  }

  void OnDone() override {
    {
      std::lock_guard lock(shared_->mu);
      shared_->reactor = nullptr;
    }
    delete this;
  }

 private:
  // What the loop side holds: the session (loop only) and a way back to the
  // reactor that stays safe after the call ended.
  struct Loop {
    std::shared_ptr<agent::exec::ExecSession> session;
    bool cancelled = false;
  };
  struct Shared {
    std::mutex mu;  // guards reactor and the reactor's queue/flags below
    ExecReactor* reactor = nullptr;
    Loop loop;  // the loop's thread only
  };

  template <typename F>
  void OnLoop(F f) {
    asio::post(agent_.loop(), [shared = shared_, f = std::move(f)]() mutable { f(shared->loop); });
  }

  static void Push(const std::shared_ptr<Shared>& shared, v1::ExecResponse message) {
    std::lock_guard lock(shared->mu);
    if (shared->reactor == nullptr) return;
    ExecReactor& r = *shared->reactor;
    if (r.cancelled_ || r.finish_requested_) return;
    r.queue_.push_back(std::move(message));
    r.WriteNextLocked();
  }

  static void End(const std::shared_ptr<Shared>& shared, grpc::Status status) {
    std::lock_guard lock(shared->mu);
    if (shared->reactor == nullptr) return;
    ExecReactor& r = *shared->reactor;
    if (r.finish_requested_) return;
    r.finish_requested_ = true;
    r.status_ = std::move(status);
    r.WriteNextLocked();
  }

  void Fail(grpc::StatusCode code, std::string message) {
    End(shared_, grpc::Status(code, std::move(message)));
    OnLoop([](Loop& loop) {
      if (loop.session) loop.session->Kill();
    });
  }

  void WriteNextLocked() {
    if (writing_ || finish_called_) return;
    if (!cancelled_ && !queue_.empty()) {
      writing_ = true;
      StartWrite(&queue_.front());
      return;
    }
    if (cancelled_ || finish_requested_) {
      finish_called_ = true;
      queue_.clear();
      Finish(cancelled_ ? grpc::Status::CANCELLED : status_);
    }
  }

  void Begin(const v1::ExecStart& start) {
    agent::exec::ExecOptions options;
    options.args.assign(start.args().begin(), start.args().end());
    options.tty = start.tty();
    options.stdin = start.stdin();
    options.env.assign(start.env().begin(), start.env().end());
    options.working_dir = start.working_dir();
    options.user = start.user();
    options.width = start.terminal_size().width();
    options.height = start.terminal_size().height();
    agent::node::Node& agent = agent_;
    asio::post(agent.loop(), [&agent, shared = shared_, target = start.target(),
                              options = std::move(options)]() mutable {
      agent::exec::ExecCallbacks callbacks;
      callbacks.on_started = [shared](const std::string& container_id, const std::string& exec_id,
                                      pid_t pid) {
        v1::ExecResponse message;
        message.mutable_started()->set_container_id(container_id);
        message.mutable_started()->set_exec_id(exec_id);
        message.mutable_started()->set_pid(static_cast<uint32_t>(pid));
        Push(shared, std::move(message));
      };
      callbacks.on_output = [shared](agent::logs::Stream stream, std::string bytes) {
        v1::ExecResponse message;
        if (stream == agent::logs::Stream::kStderr) {
          message.set_stderr(std::move(bytes));
        } else {
          message.set_stdout(std::move(bytes));
        }
        Push(shared, std::move(message));
      };
      callbacks.on_exit = [shared](Result<int> exit) {
        if (!exit.ok()) return End(shared, ToGrpcStatus(exit.status()));
        v1::ExecResponse message;
        v1::ExitStatus* status = message.mutable_exit();
        status->set_code(*exit);
        if (*exit > 128) status->set_signal(SignalName(*exit - 128));
        status->set_reason(*exit == 0 ? "Completed" : "Error");
        Push(shared, std::move(message));
        End(shared, grpc::Status::OK);
      };
      auto session = agent.StartExec(target, std::move(options), std::move(callbacks));
      if (!session.ok()) return End(shared, ToGrpcStatus(session.status()));
      shared->loop.session = *session;
      // OnCancel may have run on another gRPC thread before this got here.
      if (shared->loop.cancelled) shared->loop.session->Kill();
    });
  }

  agent::node::Node& agent_;
  std::shared_ptr<Shared> shared_;
  v1::ExecRequest request_;
  bool started_request_ = false;  // gRPC read reactions are serialized
  bool tty_ = false;
  // Guarded by shared_->mu.
  std::deque<v1::ExecResponse> queue_;
  bool writing_ = false;
  bool cancelled_ = false;
  bool finish_requested_ = false;
  bool finish_called_ = false;
  grpc::Status status_;
};

}  // namespace

int ParseSignal(const std::string& text) {
  int number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) {
    return number > 0 && number < NSIG ? number : 0;
  }
  std::string name = text;
  for (char& c : name) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  for (int signal = 1; signal < NSIG; ++signal) {
    const char* abbrev = sigabbrev_np(signal);
    if (abbrev && name == abbrev) return signal;
  }
  return 0;
}

grpc::ServerBidiReactor<v1::ExecRequest, v1::ExecResponse>* NewExecReactor(
    agent::node::Node& agent) {
  return new ExecReactor(agent);
}

}  // namespace zlayer::api
