#include "cmd/zlayer/spec_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

namespace zlayer::cli {

Environment PlaceholderEnvironment(std::string_view yaml_text) {
  Environment env;
  for (size_t at = yaml_text.find("$E:"); at != std::string_view::npos;
       at = yaml_text.find("$E:", at + 3)) {
    size_t end = at + 3;
    // Up to the end of the scalar: a quote, a space, or what ends a flow collection.
    while (end < yaml_text.size() &&
           std::string_view("\"',}]#").find(yaml_text[end]) == std::string_view::npos &&
           !std::isspace(static_cast<unsigned char>(yaml_text[end]))) {
      ++end;
    }
    std::string name(yaml_text.substr(at + 3, end - at - 3));
    if (!name.empty()) env.emplace(std::move(name), "");
  }
  return env;
}

CheckedSpec CheckSpecFile(const std::string& path) {
  CheckedSpec checked;
  auto unreadable = [&](int error) {
    checked.result.problems.push_back(
        spec::Problem{path, 0, 0, "", ErrnoError("cannot read", error).message()});
    return checked;
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unreadable(errno);
  struct stat info {};
  if (::fstat(fd, &info) != 0 || S_ISDIR(info.st_mode)) {
    int error = S_ISDIR(info.st_mode) ? EISDIR : errno;
    ::close(fd);
    return unreadable(error);
  }
  char buffer[65536];
  // One byte over the limit is enough for the parser to refuse the size.
  while (checked.text.size() <= spec::kMaxSpecBytes) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      ::close(fd);
      return unreadable(error);
    }
    if (n == 0) break;
    checked.text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  checked.result = spec::ParseSpec(checked.text, path, PlaceholderEnvironment(checked.text));
  return checked;
}

}  // namespace zlayer::cli
