// Linux names that specs use: capabilities, rlimits, signals. Pure lookups, no system calls.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zlayer::spec {

// Every capability Linux 6.x defines, canonical form "CAP_CHOWN", in bit order (index = bit).
std::span<const std::string_view> AllCapabilities();

// "CAP_NET_ADMIN" for "NET_ADMIN", "net_admin" or "CAP_NET_ADMIN"; "ALL" for "all" in any
// case; nullopt for a name Linux does not define.
std::optional<std::string> CanonicalCapability(std::string_view name);

// The RLIMIT_* resource for a ulimit name as Docker spells it ("nofile", "nproc", "core",
// "memlock", ...); nullopt for an unknown name.
std::optional<int> UlimitResource(std::string_view name);

// The names UlimitResource accepts, for error messages.
std::vector<std::string_view> UlimitNames();

// A signal number from "SIGTERM", "TERM", "sigterm", "15", "SIGRTMIN+3"; nullopt when the
// text names no signal.
std::optional<int> ParseSignal(std::string_view text);

// "SIGTERM" for 15, "SIGRTMIN+3" for a real-time signal, the number as text otherwise.
std::string SignalName(int signal);

}  // namespace zlayer::spec
