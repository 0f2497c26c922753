#include "test/support/proc.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

#include "test/support/files.h"

namespace zlayer::testing {
namespace {

std::string ProcPath(pid_t pid, const char* leaf) {
  return "/proc/" + std::to_string(pid) + "/" + leaf;
}

std::vector<std::string> SplitNul(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  std::string text = ReadFile(ProcPath(pid, "stat"));
  // "pid (comm) state ppid pgrp session ..."; comm may contain spaces and
  // parentheses, so split at the last ')'.
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  std::vector<std::string> rest = SplitWords(text.substr(close + 1));
  if (rest.size() < 4) return std::nullopt;
  ProcStat stat;
  stat.pid = pid;
  stat.comm = text.substr(open + 1, close - open - 1);
  stat.state = rest[0].empty() ? '?' : rest[0][0];
  stat.ppid = std::atoi(rest[1].c_str());
  stat.pgrp = std::atoi(rest[2].c_str());
  stat.session = std::atoi(rest[3].c_str());
  return stat;
}

std::vector<pid_t> ListPids() {
  std::vector<pid_t> pids;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return pids;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (end != entry->d_name && *end == '\0' && pid > 0) pids.push_back(static_cast<pid_t>(pid));
  }
  closedir(dir);
  return pids;
}

std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> children;
  for (pid_t candidate : ListPids()) {
    auto stat = ReadProcStat(candidate);
    if (stat && stat->ppid == pid) children.push_back(candidate);
  }
  return children;
}

std::vector<pid_t> DescendantsOf(pid_t pid) {
  // One pass over /proc builds the parent map; then a walk from `pid`.
  std::multimap<pid_t, pid_t> children;
  for (pid_t candidate : ListPids()) {
    if (auto stat = ReadProcStat(candidate)) children.emplace(stat->ppid, candidate);
  }
  std::vector<pid_t> result;
  std::vector<pid_t> todo = {pid};
  while (!todo.empty()) {
    pid_t parent = todo.back();
    todo.pop_back();
    auto [begin, end] = children.equal_range(parent);
    for (auto it = begin; it != end; ++it) {
      result.push_back(it->second);
      todo.push_back(it->second);
    }
  }
  return result;
}

std::vector<std::string> ProcArgv(pid_t pid) {
  return SplitNul(ReadFile(ProcPath(pid, "cmdline")));
}

std::string ProcCmdline(pid_t pid) {
  std::string joined;
  for (const std::string& arg : ProcArgv(pid)) {
    if (!joined.empty()) joined += ' ';
    joined += arg;
  }
  return joined;
}

std::vector<std::string> ProcEnviron(pid_t pid) {
  return SplitNul(ReadFile(ProcPath(pid, "environ")));
}

std::optional<std::string> ProcStatusField(pid_t pid, const std::string& name) {
  for (const std::string& line : ReadLines(ProcPath(pid, "status"))) {
    if (line.starts_with(name + ":")) {
      size_t start = line.find_first_not_of(" \t", name.size() + 1);
      return start == std::string::npos ? "" : line.substr(start);
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> StatusMask(const std::string& status_text, const std::string& name) {
  for (const std::string& line : SplitLines(status_text)) {
    if (!line.starts_with(name + ":")) continue;
    std::vector<std::string> words = SplitWords(line.substr(name.size() + 1));
    if (words.empty()) return std::nullopt;
    return std::strtoull(words[0].c_str(), nullptr, 16);
  }
  return std::nullopt;
}

std::optional<pid_t> InnermostPid(pid_t pid) {
  auto field = ProcStatusField(pid, "NSpid");
  if (!field) return std::nullopt;
  std::vector<std::string> words = SplitWords(*field);
  if (words.empty()) return std::nullopt;
  return static_cast<pid_t>(std::atoi(words.back().c_str()));
}

bool IsAlive(pid_t pid) {
  auto stat = ReadProcStat(pid);
  return stat && stat->state != 'Z' && stat->state != 'X';
}

bool IsZombie(pid_t pid) {
  auto stat = ReadProcStat(pid);
  return stat && stat->state == 'Z';
}

std::vector<pid_t> Zombies(const std::vector<pid_t>& pids) {
  std::vector<pid_t> zombies;
  for (pid_t pid : pids) {
    if (IsZombie(pid)) zombies.push_back(pid);
  }
  return zombies;
}

std::vector<pid_t> ProcessesMentioning(const std::string& needle) {
  std::vector<pid_t> found;
  const pid_t self = getpid();
  for (pid_t pid : ListPids()) {
    if (pid == self) continue;
    bool mentions = ReadFile(ProcPath(pid, "cmdline")).find(needle) != std::string::npos ||
                    ReadFile(ProcPath(pid, "environ")).find(needle) != std::string::npos;
    if (mentions) found.push_back(pid);
  }
  return found;
}

}  // namespace zlayer::testing
