// Reading other processes through /proc, as seen from the test (the host PID
// namespace). Every function tolerates a process that exits meanwhile: it
// then returns an empty value.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zlayer::testing {

struct ProcStat {
  pid_t pid = 0;
  char state = '?';  // R, S, D, Z, T, ... (proc(5))
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
  std::string comm;
};

// Fields of /proc/PID/stat; nullopt when the process does not exist.
std::optional<ProcStat> ReadProcStat(pid_t pid);
// Every pid in /proc (processes, not threads).
std::vector<pid_t> ListPids();
// Processes whose parent is `pid`. (This kernel has no /proc/PID/task/TID/children.)
std::vector<pid_t> ChildrenOf(pid_t pid);
// Children, grandchildren, ... of `pid`, not `pid` itself.
std::vector<pid_t> DescendantsOf(pid_t pid);
// argv of `pid`; empty for kernel threads, zombies and vanished processes.
std::vector<std::string> ProcArgv(pid_t pid);
// argv joined with single spaces (for messages and substring matching).
std::string ProcCmdline(pid_t pid);
// The environment `pid` was started with, as "KEY=VALUE" strings.
std::vector<std::string> ProcEnviron(pid_t pid);
// A "Name:\tvalue" field of /proc/PID/status, value only.
std::optional<std::string> ProcStatusField(pid_t pid, const std::string& name);
// Parses a hexadecimal mask field such as SigBlk or SigIgn of `status_text`
// (the content of a /proc/PID/status file).
std::optional<std::uint64_t> StatusMask(const std::string& status_text, const std::string& name);
// The pid as seen inside its own (innermost) PID namespace: last field of NSpid.
std::optional<pid_t> InnermostPid(pid_t pid);
// Exists and is not a zombie.
bool IsAlive(pid_t pid);
bool IsZombie(pid_t pid);
// Pids among `pids` that are zombies right now.
std::vector<pid_t> Zombies(const std::vector<pid_t>& pids);
// Pids of every process (other than the caller) whose argv or environment
// contains `needle`, e.g. a test's temporary directory.
std::vector<pid_t> ProcessesMentioning(const std::string& needle);

}  // namespace zlayer::testing
