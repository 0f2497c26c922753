#include "agent/logs/log_reader.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <deque>
#include <filesystem>

#include "agent/logs/log_file.h"

namespace zlayer::agent::logs {
namespace {

// An open log file. Renames by a rotation do not affect what it reads.
class OpenFile {
 public:
  OpenFile(std::string path, int fd, ino_t inode)
      : path_(std::move(path)), fd_(fd), inode_(inode) {}
  OpenFile(OpenFile&& other) noexcept
      : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), inode_(other.inode_) {}
  OpenFile& operator=(OpenFile&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      path_ = std::move(other.path_);
      fd_ = std::exchange(other.fd_, -1);
      inode_ = other.inode_;
    }
    return *this;
  }
  ~OpenFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  ino_t inode() const { return inode_; }

 private:
  std::string path_;
  int fd_;
  ino_t inode_;
};

// Opens `path`; nullopt when it does not exist.
Result<std::optional<OpenFile>> OpenIfExists(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<OpenFile>();
    return ErrnoError(fmt::format("open {}", path));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s = ErrnoError(fmt::format("fstat {}", path));
    ::close(fd);
    return s;
  }
  return std::optional<OpenFile>(OpenFile(path, fd, st.st_ino));
}

// Highest N of the existing <id>.log.N files (0 if none).
int HighestRotatedIndex(const std::string& dir, const std::string& id) {
  int highest = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    highest = std::max(highest, LogFileIndex(it->path().filename().string(), id).value_or(0));
  }
  return highest;
}

// Opens the current file first, then the rotated ones, newest to oldest. Every
// rotation replaces <id>.log, so if the current file is still the one opened
// first once all are open, no rotation interleaved and the set is exact.
// Returns the files oldest first, without duplicates.
Result<std::vector<OpenFile>> OpenSnapshot(const std::string& dir, const std::string& id) {
  constexpr int kAttempts = 50;
  std::vector<OpenFile> files;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    files.clear();
    int highest = HighestRotatedIndex(dir, id);
    for (int i = 0; i <= highest; ++i) {
      auto file = OpenIfExists(LogFilePath(dir, id, i));
      if (!file.ok()) return file.status();
      if (!*file) continue;
      bool duplicate = std::any_of(files.begin(), files.end(), [&](const OpenFile& f) {
        return f.inode() == (*file)->inode();
      });
      if (!duplicate) files.push_back(std::move(**file));
    }
    const std::string current = LogFilePath(dir, id);
    bool opened_current = !files.empty() && files.front().path() == current;
    struct stat st {};
    bool current_unchanged = ::stat(current.c_str(), &st) == 0
                                 ? opened_current && files.front().inode() == st.st_ino
                                 : !opened_current;
    if (current_unchanged) break;
  }
  std::reverse(files.begin(), files.end());
  return files;
}

// Reads the file from its start, at most `limit` bytes.
Result<std::string> ReadAll(const OpenFile& file, uint64_t limit) {
  std::string data;
  char buf[64 * 1024];
  while (data.size() < limit) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof buf, limit - data.size()));
    ssize_t n = ::read(file.fd(), buf, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(fmt::format("read {}", file.path()));
    }
    if (n == 0) return data;
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

bool Wanted(const LogRecord& record, const ReadOptions& options) {
  if (record.stream == Stream::kStdout && !options.include_stdout) return false;
  if (record.stream == Stream::kStderr && !options.include_stderr) return false;
  return !options.since || record.time >= *options.since;
}

}  // namespace

Result<LogEnd> CurrentLogEnd(const std::string& dir, const std::string& id) {
  const std::string path = LogFilePath(dir, id);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return LogEnd{};
    return ErrnoError(fmt::format("stat {}", path));
  }
  return LogEnd{static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size)};
}

Result<ReadResult> ReadLogs(const std::string& dir, const std::string& id,
                            const ReadOptions& options) {
  auto files = OpenSnapshot(dir, id);
  if (!files.ok()) return files.status().Wrap(fmt::format("logs of {}", id));
  // With `until`, the newest file read is the one that was current then.
  uint64_t newest_limit = UINT64_MAX;
  if (options.until) {
    auto current_then = std::find_if(files->begin(), files->end(), [&](const OpenFile& f) {
      return options.until->inode != 0 && f.inode() == options.until->inode;
    });
    if (current_then == files->end()) return ReadResult{};
    files->erase(current_then + 1, files->end());
    newest_limit = options.until->size;
  }

  // Newest file first, so that a tail or a `since` stops early; a file's
  // records are kept in a deque and the files' runs are prepended.
  ReadResult result;
  std::deque<LogRecord> kept;
  for (size_t f = files->size(); f-- > 0;) {
    const OpenFile& file = (*files)[f];
    bool is_newest = f + 1 == files->size();
    auto data = ReadAll(file, is_newest ? newest_limit : UINT64_MAX);
    if (!data.ok()) return data.status().Wrap(fmt::format("logs of {}", id));

    std::vector<std::string_view> lines;
    std::string_view rest = *data;
    while (!rest.empty()) {
      size_t newline = rest.find('\n');
      if (newline == std::string_view::npos) {
        // A line still being written; in an older file a torn one.
        if (!is_newest) ++result.skipped_lines;
        break;
      }
      if (newline > 0) lines.push_back(rest.substr(0, newline));
      rest.remove_prefix(newline + 1);
    }
    std::vector<LogRecord> records;
    bool older_than_since = false;
    auto take = [&](std::string_view line) {
      auto record = DecodeRecord(line);
      if (!record) {
        ++result.skipped_lines;
        return;
      }
      if (options.since && record->time < *options.since) older_than_since = true;
      if (Wanted(*record, options)) records.push_back(std::move(*record));
    };
    if (options.tail > 0 && !options.since) {
      // Only the last lines are needed: decode from the end, not the whole
      // file (a `logs -n 20` of a 50 MB file).
      for (size_t i = lines.size(); i-- > 0 && kept.size() + records.size() < options.tail;) {
        take(lines[i]);
      }
      std::reverse(records.begin(), records.end());
    } else {
      for (std::string_view line : lines) take(line);
    }
    kept.insert(kept.begin(), std::make_move_iterator(records.begin()),
                std::make_move_iterator(records.end()));
    if (options.tail > 0 && kept.size() >= options.tail) break;
    // Records are appended in time order (stamped when complete): once a file
    // holds one older than `since`, every older file does too.
    if (older_than_since) break;
  }
  if (options.tail > 0 && kept.size() > options.tail) {
    kept.erase(kept.begin(), kept.end() - static_cast<std::ptrdiff_t>(options.tail));
  }
  result.records.assign(std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
  return result;
}

}  // namespace zlayer::agent::logs
