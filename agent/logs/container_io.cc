#include "agent/logs/container_io.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>

namespace zlayer::agent::logs {

ContainerLog::ContainerLog(std::string container_id, std::unique_ptr<LogFile> file, LogHub& hub,
                           Logger* logger)
    : container_id_(std::move(container_id)), file_(std::move(file)), hub_(&hub), logger_(logger) {}

void ContainerLog::Write(const LogRecord& record) {
  RecordView view{record.stream, record.time, record.text};
  WriteBatch(std::span<const RecordView>(&view, 1));
}

void ContainerLog::WriteBatch(std::span<const RecordView> records) {
  LogFile::AppendResult appended = file_->Append(records);
  if (appended.dropped > 0) {
    if (dropped_ == 0 && logger_) {
      logger_->Error("container {}: log lines are being lost: {}", container_id_,
                     appended.status.message());
    }
    dropped_ += appended.dropped;
  } else if (dropped_ > 0) {
    if (logger_) {
      logger_->Warn("container {}: log writable again after losing {} records", container_id_,
                    dropped_);
    }
    dropped_ = 0;
  }
  hub_->Publish(container_id_, records);
}

Result<PreparedContainerIo> ContainerIo::Prepare(const ContainerIoPaths& paths,
                                                 const LogFileOptions& file_options) {
  std::string context = fmt::format("container {}", paths.container_id);
  if (Status s = PrepareContainerIo(paths); !s.ok()) return s.Wrap(context);
  for (const std::string* fifo : {&paths.stdout_fifo, &paths.stderr_fifo}) {
    if (::mkfifo(fifo->c_str(), 0600) != 0 && errno != EEXIST) {
      return ErrnoError(fmt::format("mkfifo {}", *fifo)).Wrap(context);
    }
  }
  auto file = LogFile::Open(paths.log_dir, paths.container_id, file_options);
  if (!file.ok()) return file.status().Wrap(context);
  return PreparedContainerIo{paths, std::move(*file)};
}

Result<std::unique_ptr<ContainerIo>> ContainerIo::Open(boost::asio::io_context& io,
                                                       PreparedContainerIo prepared, LogHub& hub,
                                                       ContainerIoOptions options) {
  const ContainerIoPaths& paths = prepared.paths;
  std::string context = fmt::format("container {}", paths.container_id);
  auto log = std::make_unique<ContainerLog>(paths.container_id, std::move(prepared.file), hub,
                                            options.drain.logger);
  std::unique_ptr<ContainerIo> result(new ContainerIo(paths, std::move(log)));
  auto out = FifoDrain::Open(io, paths.stdout_fifo, Stream::kStdout, *result->log_, options.drain);
  if (!out.ok()) return out.status().Wrap(context);
  result->stdout_ = std::move(*out);
  auto err = FifoDrain::Open(io, paths.stderr_fifo, Stream::kStderr, *result->log_, options.drain);
  if (!err.ok()) return err.status().Wrap(context);
  result->stderr_ = std::move(*err);
  return result;
}

Result<std::unique_ptr<ContainerIo>> ContainerIo::Open(boost::asio::io_context& io,
                                                       const ContainerIoPaths& paths, LogHub& hub,
                                                       ContainerIoOptions options) {
  auto prepared = Prepare(paths, options.file);
  if (!prepared.ok()) return prepared.status();
  return Open(io, std::move(*prepared), hub, std::move(options));
}

ContainerIo::ContainerIo(ContainerIoPaths paths, std::unique_ptr<ContainerLog> log)
    : paths_(std::move(paths)), log_(std::move(log)) {}

ContainerIo::~ContainerIo() { Close(); }

void ContainerIo::Close() {
  if (stdout_) stdout_->Close();
  if (stderr_) stderr_->Close();
}

}  // namespace zlayer::agent::logs
