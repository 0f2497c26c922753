#include "agent/exec/exec_capture.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <memory>

#include "agent/exec/process_spec.h"
#include "agent/logs/fifo_drain.h"

namespace zlayer::agent::exec {

namespace {

namespace asio = boost::asio;

// Time allowed for a SIGKILLed process to be reported gone.
constexpr std::chrono::milliseconds kAfterKillWait{10000};

class CaptureSink : public logs::LogSink {
 public:
  explicit CaptureSink(size_t max) : max_(max) {}
  void Write(const logs::LogRecord& record) override {
    const size_t room = max_ - std::min(max_, output_.size());
    if (record.text.size() > room) truncated_ = true;
    output_.append(record.text, 0, std::min(room, record.text.size()));
  }
  std::string output_;
  bool truncated_ = false;

 private:
  size_t max_;
};

struct Run {
  ExecContext context;
  std::string container_id;
  std::string exec_id = NewExecId();
  std::string stdout_path, stderr_path;
  std::vector<std::string> args;
  CaptureOptions options;
  std::function<void(Result<CaptureResult>)> done;
  CaptureSink sink;
  std::unique_ptr<logs::FifoDrain> out, err;

  Run(const ExecContext& context, std::string container_id, std::vector<std::string> args,
      CaptureOptions options, std::function<void(Result<CaptureResult>)> done)
      : context(context),
        container_id(std::move(container_id)),
        args(std::move(args)),
        options(options),
        done(std::move(done)),
        sink(options.max_output) {}

  Status Wrap(const Status& status) const {
    return status.Wrap(fmt::format("exec in {}", container_id));
  }

  // On the pool: the blocking containerd calls, in order.
  Result<CaptureResult> Execute() {
    containerd::Tasks& tasks = context.tasks;
    auto container = context.containers.GetContainer(container_id);
    if (!container.ok()) return Wrap(container.status());
    auto process = ExecProcessJson(container->spec_json, args, /*terminal=*/false);
    if (!process.ok()) return Wrap(process.status());
    containerd::ExecRequest request;
    request.container_id = container_id;
    request.exec_id = exec_id;
    request.process_json = *process;
    request.stdout_path = stdout_path;
    request.stderr_path = stderr_path;
    if (Status s = tasks.Exec(request); !s.ok()) return Wrap(s);
    if (auto started = tasks.StartTask(container_id, exec_id); !started.ok()) {
      (void)tasks.DeleteProcess(container_id, exec_id);
      return Wrap(started.status());
    }
    CaptureResult result;
    auto timeout = std::chrono::ceil<std::chrono::milliseconds>(options.timeout);
    auto exit = tasks.WaitProcess(container_id, exec_id, timeout);
    if (!exit.ok() && exit.status().code() == StatusCode::kDeadlineExceeded) {
      result.timed_out = true;
      (void)tasks.KillTask(container_id, exec_id, SIGKILL, false);
      exit = tasks.WaitProcess(container_id, exec_id, kAfterKillWait);
    }
    // DeleteProcess also waits for the shim to finish copying the output.
    auto deleted = tasks.DeleteProcess(container_id, exec_id);
    if (!exit.ok()) return Wrap(exit.status());
    if (!deleted.ok() && context.log) {
      context.log->Warn("exec in {}: {}", container_id, deleted.status().message());
    }
    result.exit_code = static_cast<int>(exit->exit_status);
    return result;
  }

  void RemoveFifos() {
    ::unlink(stdout_path.c_str());
    ::unlink(stderr_path.c_str());
  }

  // On the loop: take the rest of the output, close, report.
  void Finish(Result<CaptureResult> result) {
    if (out) out->Close();
    if (err) err->Close();
    if (result.ok()) {
      result->output = std::move(sink.output_);
      result->truncated = sink.truncated_;
    }
    auto callback = std::move(done);
    callback(std::move(result));
  }
};

}  // namespace

void RunCaptured(const ExecContext& context, const std::string& fifo_dir,
                 const std::string& container_id, std::vector<std::string> args,
                 CaptureOptions options, std::function<void(Result<CaptureResult>)> done) {
  auto run =
      std::make_shared<Run>(context, container_id, std::move(args), options, std::move(done));
  run->stdout_path = fmt::format("{}/{}-stdout", fifo_dir, run->exec_id);
  run->stderr_path = fmt::format("{}/{}-stderr", fifo_dir, run->exec_id);
  Status opened = Status::Ok();
  if (::mkdir(fifo_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    opened = ErrnoError(fmt::format("mkdir {}", fifo_dir));
  }
  if (opened.ok()) {
    logs::FifoDrainOptions drain_options;
    drain_options.logger = context.log;
    auto out = logs::FifoDrain::Open(context.loop, run->stdout_path, logs::Stream::kStdout,
                                     run->sink, drain_options);
    auto err = out.ok() ? logs::FifoDrain::Open(context.loop, run->stderr_path,
                                                logs::Stream::kStderr, run->sink, drain_options)
                        : Result<std::unique_ptr<logs::FifoDrain>>(out.status());
    if (out.ok()) run->out = std::move(*out);
    if (err.ok()) run->err = std::move(*err);
    if (!err.ok()) opened = err.status();
  }
  if (!opened.ok()) {
    run->RemoveFifos();
    asio::post(context.loop, [run, opened] { run->Finish(run->Wrap(opened)); });
    return;
  }
  asio::post(context.pool, [run] {
    Result<CaptureResult> result = run->Execute();
    run->RemoveFifos();
    asio::post(run->context.loop,
               [run, result = std::move(result)]() mutable { run->Finish(std::move(result)); });
  });
}

}  // namespace zlayer::agent::exec
