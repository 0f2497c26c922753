// RFC 3339 timestamps, as Docker writes them in json-file logs, as our files on disk store
// them ("2026-11-28T18:00:00.123456789Z") and as containerd reads a lease's
// containerd.io/gc.expire label. The node's one RFC 3339 formatter and parser.
//
// Thread safety: pure functions.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"

namespace zlayer {

// Formats `t` in UTC with exactly nine fractional digits and a "Z" suffix.
std::string FormatRfc3339Nano(std::chrono::system_clock::time_point t);

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"; the fraction may
// have 1 to 9 digits ('t' and 'z' are accepted too). Returns kInvalidArgument
// naming the text when it is not such a timestamp or lies outside what
// system_clock can hold (years 1678..2261).
Result<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text);

}  // namespace zlayer
