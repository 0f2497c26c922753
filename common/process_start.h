// When a process started, from the kernel's own record (/proc/<pid>/stat, field 22:
// clock ticks since boot). containerd's task API does not say when a task started, so
// an agent that adopts running containers after a restart asks the kernel.
//
// Thread safety: free functions. ProcessStartTime reads /proc (blocking, if briefly):
// call it off any event loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace zlayer {

// Field 22 (starttime, in clock ticks since boot) of a /proc/<pid>/stat line. The
// command name (field 2) may hold spaces and parentheses, so fields are counted after
// its last ')'. kInvalidArgument when the line is not such a record.
Result<uint64_t> ParseProcStatStartTicks(std::string_view stat);

// The wall-clock time of `start_ticks` after boot, given how long ago boot was
// (`since_boot`, CLOCK_BOOTTIME) at `wall_now`, and the kernel's ticks per second.
std::chrono::system_clock::time_point StartTimeFromTicks(
    uint64_t start_ticks, uint64_t ticks_per_second, std::chrono::nanoseconds since_boot,
    std::chrono::system_clock::time_point wall_now);

// The start time of process `pid` (in this process's pid namespace), to about a tick
// (10 ms). kNotFound when there is no such process; other errors name the file.
Result<std::chrono::system_clock::time_point> ProcessStartTime(pid_t pid);

}  // namespace zlayer
