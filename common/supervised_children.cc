#include "common/supervised_children.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace zlayer {
namespace {

std::string Flatten(std::string s) {
  for (char& c : s) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

std::string SupervisedChildrenPath(const std::string& run_dir) { return run_dir + "/children"; }

std::string FormatSupervisedChildren(const std::vector<SupervisedChild>& children) {
  std::string out;
  for (const auto& child : children) {
    out += fmt::format("{}\t{}\t{}\n", Flatten(child.name), child.up ? "up" : "down",
                       Flatten(child.detail));
  }
  return out;
}

Result<std::vector<SupervisedChild>> ParseSupervisedChildren(const std::string& text) {
  std::vector<SupervisedChild> children;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    const auto first = line.find('\t');
    const auto second = first == std::string::npos ? first : line.find('\t', first + 1);
    if (second == std::string::npos) {
      return InvalidArgumentError(fmt::format("line {}: expected name, state and detail", number));
    }
    SupervisedChild child;
    child.name = line.substr(0, first);
    const std::string state = line.substr(first + 1, second - first - 1);
    if (state != "up" && state != "down") {
      return InvalidArgumentError(
          fmt::format("line {}: state '{}' is neither 'up' nor 'down'", number, state));
    }
    child.up = state == "up";
    child.detail = line.substr(second + 1);
    children.push_back(std::move(child));
  }
  return children;
}

Status WriteSupervisedChildren(const std::string& run_dir,
                               const std::vector<SupervisedChild>& children) {
  const std::string path = SupervisedChildrenPath(run_dir);
  const std::string tmp = path + ".tmp";
  const std::string content = FormatSupervisedChildren(children);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open " + tmp);
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return ErrnoError("write " + tmp, err);
    }
    written += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return ErrnoError("close " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("rename " + tmp);
  return Status::Ok();
}

Result<std::vector<SupervisedChild>> ReadSupervisedChildren(const std::string& run_dir) {
  const std::string path = SupervisedChildrenPath(run_dir);
  std::ifstream in(path);
  if (!in) return ErrnoError("open " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto parsed = ParseSupervisedChildren(buffer.str());
  if (!parsed.ok()) return parsed.status().Wrap(path);
  return parsed;
}

}  // namespace zlayer
