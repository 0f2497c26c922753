#include "test/support/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace zlayer::testing {
namespace {

std::runtime_error ErrnoError(const std::string& what) {
  return std::runtime_error(what + ": " +
                            std::error_code(errno, std::generic_category()).message());
}

}  // namespace

void WriteFile(const std::string& path, std::string_view content, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw ErrnoError("open " + path);
  // open() applies the umask; the caller asked for exactly `mode`.
  if (fchmod(fd, mode) != 0) {
    close(fd);
    throw ErrnoError("chmod " + path);
  }
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      throw ErrnoError("write " + path);
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) throw ErrnoError("close " + path);
}

void WriteScript(const std::string& path, std::string_view content) {
  WriteFile(path, content, 0755);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::vector<std::string> ReadLines(const std::string& path) { return SplitLines(ReadFile(path)); }

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

bool FileExists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

void MakeFifo(const std::string& path) {
  if (mkfifo(path.c_str(), 0600) != 0) throw ErrnoError("mkfifo " + path);
}

int CountLinesContaining(std::string_view text, std::string_view needle) {
  int count = 0;
  for (const std::string& line : SplitLines(text)) {
    if (line.find(needle) != std::string::npos) ++count;
  }
  return count;
}

}  // namespace zlayer::testing
