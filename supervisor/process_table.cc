#include "supervisor/process_table.h"

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace zlayer::init {

ProcessInfo ParseProcStat(const std::string& text) {
  ProcessInfo info;
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return info;
  std::istringstream rest(text.substr(close + 1));
  char state = '?';
  long parent = 0;
  if (!(rest >> state >> parent)) return info;
  info.pid = static_cast<pid_t>(std::atol(text.c_str()));
  info.name = text.substr(open + 1, close - open - 1);
  info.state = state;
  info.parent = static_cast<pid_t>(parent);
  return info;
}

std::vector<ProcessInfo> ListProcesses(const std::string& proc_root) {
  std::vector<ProcessInfo> table;
  DIR* dir = ::opendir(proc_root.c_str());
  if (dir == nullptr) return table;
  while (dirent* entry = ::readdir(dir)) {
    const char* name = entry->d_name;
    if (name[0] < '1' || name[0] > '9') continue;
    std::ifstream in(proc_root + "/" + name + "/stat");
    std::string text;
    if (!std::getline(in, text)) continue;  // exited meanwhile
    ProcessInfo info = ParseProcStat(text);
    if (info.pid > 0) table.push_back(info);
  }
  ::closedir(dir);
  return table;
}

bool IsSelfOrDescendant(const std::vector<ProcessInfo>& table, pid_t pid, pid_t ancestor) {
  std::map<pid_t, pid_t> parent_of;
  for (const ProcessInfo& p : table) parent_of[p.pid] = p.parent;
  // Bounded walk: a table read while processes come and go may hold a cycle.
  for (size_t steps = 0; pid > 0 && steps <= table.size(); ++steps) {
    if (pid == ancestor) return true;
    auto it = parent_of.find(pid);
    if (it == parent_of.end()) return false;
    pid = it->second;
  }
  return false;
}

std::vector<ProcessInfo> Descendants(const std::vector<ProcessInfo>& table, pid_t root) {
  std::vector<ProcessInfo> result;
  for (const ProcessInfo& p : table) {
    if (p.pid != root && IsSelfOrDescendant(table, p.pid, root)) result.push_back(p);
  }
  return result;
}

}  // namespace zlayer::init
