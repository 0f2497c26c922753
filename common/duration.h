// Durations and sizes as users write them in the environment and in specs.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace zlayer {

// Parses "500ms", "5s", "2m", "1h", "1m30s", "250us", "0" (Go's time.ParseDuration
// units ns, us, ms, s, m, h; decimals such as "1.5s" allowed). A bare number
// other than 0 is rejected, since "10" could mean seconds or milliseconds.
// Errors: kInvalidArgument naming the text and what was expected.
Result<std::chrono::nanoseconds> ParseDuration(std::string_view text);

// "1.5s", "250ms", "2m0s": a short human form for logs.
std::string FormatDuration(std::chrono::nanoseconds d);

}  // namespace zlayer
