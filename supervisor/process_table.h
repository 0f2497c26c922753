// Reading the process tree from /proc: who descends from whom.
//
// Used to accept notifications from a managed program's descendants
// (systemd's NotifyAccess=all) and to find what is left to stop at shutdown.
// Every function tolerates processes vanishing while it reads.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace zlayer::init {

struct ProcessInfo {
  pid_t pid = 0;
  pid_t parent = 0;
  char state = '?';  // 'R', 'S', 'Z', ... as in /proc/PID/stat
  std::string name;  // comm
};

// Parses the text of /proc/PID/stat (the name may contain spaces and ')').
// Returns a ProcessInfo with pid 0 when the text is not of that form.
ProcessInfo ParseProcStat(const std::string& stat_text);

// Every process visible in `proc_root` (normally "/proc").
std::vector<ProcessInfo> ListProcesses(const std::string& proc_root = "/proc");

// True when `pid` is `ancestor` or a descendant of it, according to `table`.
bool IsSelfOrDescendant(const std::vector<ProcessInfo>& table, pid_t pid, pid_t ancestor);

// The descendants of `root` in `table` (not `root` itself), zombies included.
std::vector<ProcessInfo> Descendants(const std::vector<ProcessInfo>& table, pid_t root);

}  // namespace zlayer::init
