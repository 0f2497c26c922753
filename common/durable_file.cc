#include "common/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace zlayer {

Status WriteFileDurably(const std::string& path, const std::string& content, mode_t mode) {
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    for (size_t next = dir.find('/', 1);; next = dir.find('/', next + 1)) {
      std::string prefix = dir.substr(0, next);
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
        return ErrnoError("mkdir " + prefix);
      if (next == std::string::npos) break;
    }
  }
  const std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError("create " + temp);
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status status = ErrnoError("write " + temp);
      ::close(fd);
      return status;
    }
    written += static_cast<size_t>(n);
  }
  // fchmod: a temporary file left by an earlier crash keeps its old mode.
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    Status status = ErrnoError("sync " + temp);
    ::close(fd);
    return status;
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) return ErrnoError("rename " + temp);
  return Status::Ok();
}

}  // namespace zlayer
