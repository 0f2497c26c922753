#include "agent/logs/log_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

namespace zlayer::agent::logs {
namespace {

Result<int> OpenForAppend(const std::string& path) {
  // Read-write only so that Open can look at the last byte.
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoError(fmt::format("open {}", path));
  return fd;
}

struct WriteOutcome {
  size_t written = 0;
  int error = 0;  // errno of the failure, 0 when all was written
};

// Writes all of `data`, continuing after short writes.
WriteOutcome WriteFully(int fd, std::string_view data) {
  WriteOutcome outcome;
  while (outcome.written < data.size()) {
    ssize_t n = ::write(fd, data.data() + outcome.written, data.size() - outcome.written);
    if (n < 0) {
      if (errno == EINTR) continue;
      outcome.error = errno;
      return outcome;
    }
    if (n == 0) {
      outcome.error = EIO;
      return outcome;
    }
    outcome.written += static_cast<size_t>(n);
  }
  return outcome;
}

// The size of the file's whole lines: up to and including its last '\n'
// (0 when it has none), `size` when it ends with one.
uint64_t WholeLinesSize(int fd, uint64_t size) {
  char buf[64 * 1024];
  uint64_t end = size;
  while (end > 0) {
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(end, sizeof buf));
    ssize_t n = ::pread(fd, buf, chunk, static_cast<off_t>(end - chunk));
    if (n != static_cast<ssize_t>(chunk)) return size;  // unreadable: leave it as it is
    for (size_t i = chunk; i-- > 0;) {
      if (buf[i] == '\n') return end - chunk + i + 1;
    }
    end -= chunk;
  }
  return 0;
}

// Removes <id>.log.N for every N >= keep_from.
void RemoveRotatedFrom(const std::string& dir, const std::string& id, int keep_from) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto index = LogFileIndex(it->path().filename().string(), id);
    if (index && *index >= keep_from) ::unlink(it->path().c_str());
  }
}

}  // namespace

std::string LogFilePath(const std::string& dir, const std::string& id, int index) {
  if (index == 0) return fmt::format("{}/{}.log", dir, id);
  return fmt::format("{}/{}.log.{}", dir, id, index);
}

std::optional<int> LogFileIndex(std::string_view file_name, std::string_view id) {
  if (file_name.size() < id.size() + 4 || file_name.substr(0, id.size()) != id ||
      file_name.substr(id.size(), 4) != ".log") {
    return std::nullopt;
  }
  std::string_view rest = file_name.substr(id.size() + 4);
  if (rest.empty()) return 0;
  std::string_view digits = rest.substr(1);
  if (rest[0] != '.' || digits.empty() || digits.size() > 6 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  int index = 0;
  for (char c : digits) index = index * 10 + (c - '0');
  return index == 0 ? std::nullopt : std::optional<int>(index);
}

Result<std::unique_ptr<LogFile>> LogFile::Open(std::string dir, std::string id,
                                               LogFileOptions options) {
  if (options.max_size == 0 || options.max_files < 1) {
    return InvalidArgumentError(fmt::format("log {}: max_size must be > 0 and max_files >= 1", id));
  }
  std::string path = LogFilePath(dir, id);
  auto fd = OpenForAppend(path);
  if (!fd.ok()) return fd.status();
  struct stat st {};
  if (::fstat(*fd, &st) != 0) {
    Status s = ErrnoError(fmt::format("fstat {}", path));
    ::close(*fd);
    return s;
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  // A torn last line (a crash mid-write) must neither be read as a record
  // nor swallow the next one. Cutting it needs no space on a full disk.
  if (uint64_t whole = WholeLinesSize(*fd, size);
      whole < size && ::ftruncate(*fd, static_cast<off_t>(whole)) == 0) {
    size = whole;
  }
  RemoveRotatedFrom(dir, id, options.max_files);
  return std::unique_ptr<LogFile>(new LogFile(std::move(dir), std::move(id), options, *fd, size));
}

LogFile::LogFile(std::string dir, std::string id, LogFileOptions options, int fd, uint64_t size)
    : dir_(std::move(dir)),
      id_(std::move(id)),
      path_(LogFilePath(dir_, id_)),
      options_(options),
      fd_(fd),
      size_(size) {}

LogFile::~LogFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status LogFile::Append(const LogRecord& record) {
  RecordView view{record.stream, record.time, record.text};
  return Append(std::span<const RecordView>(&view, 1)).status;
}

LogFile::AppendResult LogFile::Append(std::span<const RecordView> records) {
  encoded_.clear();
  ends_.clear();
  for (const RecordView& record : records) {
    encoder_.Append(record, encoded_);
    ends_.push_back(encoded_.size());
  }
  size_t next = 0;
  while (next < records.size()) {
    const uint64_t first_size = ends_[next] - (next == 0 ? 0 : ends_[next - 1]);
    if (size_ > 0 && size_ + first_size > options_.max_size) {
      if (Status s = Rotate(); !s.ok()) return {records.size() - next, std::move(s)};
    }
    if (fd_ < 0) {
      if (Status s = Reopen(); !s.ok()) return {records.size() - next, std::move(s)};
    }
    // As many records as fit, at least one (a record larger than max_size
    // fills a file alone).
    const size_t start = next == 0 ? 0 : ends_[next - 1];
    size_t last = next + 1;
    while (last < records.size() && size_ + (ends_[last] - start) <= options_.max_size) ++last;
    auto [whole, status] = WriteRecords(next, last);
    next += whole;
    if (!status.ok()) return {records.size() - next, std::move(status)};
  }
  return {};
}

std::pair<size_t, Status> LogFile::WriteRecords(size_t first, size_t last) {
  const size_t start = first == 0 ? 0 : ends_[first - 1];
  const size_t length = ends_[last - 1] - start;
  if (torn_) {
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      return {0, ErrnoError(fmt::format("truncate {} to its last whole record", path_))};
    }
    torn_ = false;
  }
  WriteOutcome outcome = WriteFully(fd_, std::string_view(encoded_).substr(start, length));
  if (outcome.error == 0) {
    size_ += length;
    return {last - first, Status::Ok()};
  }
  // Keep the records that reached the file whole; cut the torn one away.
  // With O_APPEND the next write lands at the new end.
  size_t whole = static_cast<size_t>(
      std::upper_bound(ends_.begin() + static_cast<std::ptrdiff_t>(first),
                       ends_.begin() + static_cast<std::ptrdiff_t>(last), start + outcome.written) -
      (ends_.begin() + static_cast<std::ptrdiff_t>(first)));
  uint64_t kept = whole == 0 ? 0 : ends_[first + whole - 1] - start;
  size_ += kept;
  // Should the cut fail, the next write tries it again first: appending after
  // a torn tail would glue the next record to it.
  torn_ = outcome.written > kept && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0;
  return {whole, ErrnoError(fmt::format("write {}", path_), outcome.error)};
}

Status LogFile::Reopen() {
  auto fd = OpenForAppend(path_);
  if (!fd.ok()) return fd.status();
  fd_ = *fd;
  struct stat st {};
  size_ = ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return Status::Ok();
}

Status LogFile::Rotate() {
  if (options_.max_files == 1) {
    // Nothing is kept: start the file over. Readers holding it open keep the
    // old inode.
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
      return ErrnoError(fmt::format("rotate {}: unlink", path_));
    }
  } else {
    // Oldest first, so that each rename replaces a file already copied one
    // step further; the rename onto <id>.log.<max_files-1> drops the oldest.
    for (int i = options_.max_files - 1; i >= 1; --i) {
      std::string from = LogFilePath(dir_, id_, i - 1);
      std::string to = LogFilePath(dir_, id_, i);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
        return ErrnoError(fmt::format("rotate {}: rename to {}", from, to));
      }
    }
  }
  ::close(fd_);
  fd_ = -1;
  torn_ = false;
  auto fd = OpenForAppend(path_);
  if (!fd.ok()) return fd.status().Wrap("rotate");
  fd_ = *fd;
  size_ = 0;
  return Status::Ok();
}

}  // namespace zlayer::agent::logs
