#include "agent/spec/kernel_names.h"

#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <csignal>

namespace zlayer::spec {
namespace {

constexpr std::string_view kCapabilities[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

struct Rlimit {
  std::string_view name;
  int resource;
};
constexpr Rlimit kRlimits[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};
struct Signal {
  std::string_view name;  // without "SIG"
  int number;
};
constexpr Signal kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

// The kernel's range; glibc's SIGRTMIN reserves a few for itself at run time, but a
// container's processes may use them all.
constexpr int kRtMin = 32;
constexpr int kRtMax = 64;

std::string Upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::optional<int> ParseNumber(std::string_view text) {
  int number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return number;
}

}  // namespace

std::span<const std::string_view> AllCapabilities() { return kCapabilities; }

std::optional<std::string> CanonicalCapability(std::string_view name) {
  std::string upper = Upper(name);
  if (upper == "ALL") return upper;
  if (!upper.starts_with("CAP_")) upper = "CAP_" + upper;
  for (std::string_view capability : kCapabilities) {
    if (capability == upper) return upper;
  }
  return std::nullopt;
}

std::optional<int> UlimitResource(std::string_view name) {
  for (const Rlimit& rlimit : kRlimits) {
    if (rlimit.name == name) return rlimit.resource;
  }
  return std::nullopt;
}

std::vector<std::string_view> UlimitNames() {
  std::vector<std::string_view> names;
  for (const Rlimit& rlimit : kRlimits) names.push_back(rlimit.name);
  return names;
}

std::optional<int> ParseSignal(std::string_view text) {
  if (auto number = ParseNumber(text)) {
    if (*number >= 1 && *number <= kRtMax) return number;
    return std::nullopt;
  }
  std::string upper = Upper(text);
  std::string_view name = upper;
  if (name.starts_with("SIG")) name.remove_prefix(3);
  for (const Signal& signal : kSignals) {
    if (signal.name == name) return signal.number;
  }
  std::optional<int> rt;
  if (name == "RTMIN") rt = kRtMin;
  if (name == "RTMAX") rt = kRtMax;
  if (name.starts_with("RTMIN+")) {
    if (auto offset = ParseNumber(name.substr(6))) rt = kRtMin + *offset;
  }
  if (name.starts_with("RTMAX-")) {
    if (auto offset = ParseNumber(name.substr(6))) rt = kRtMax - *offset;
  }
  if (rt && *rt >= kRtMin && *rt <= kRtMax) return rt;
  return std::nullopt;
}

std::string SignalName(int signal) {
  for (const Signal& entry : kSignals) {
    if (entry.number == signal) return "SIG" + std::string(entry.name);
  }
  if (signal == kRtMin) return "SIGRTMIN";
  if (signal > kRtMin && signal <= kRtMax) return "SIGRTMIN+" + std::to_string(signal - kRtMin);
  return std::to_string(signal);
}

}  // namespace zlayer::spec
