// Byte sizes as specs write them (`resources.memory`, tmpfs `size`).
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace zlayer::spec {

// Parses "512Mi", "1Gi", "1.5Gi" (binary: Ki Mi Gi Ti), "100M", "2G" (decimal: K M G T)
// and "1048576" (a bare number is bytes, and must be whole). A fraction is rounded down to
// whole bytes. Zero is accepted; callers that need more say so.
// Errors: kInvalidArgument "invalid size \"12X\": ... (expected e.g. 512Mi, 1Gi, 100M or a
// number of bytes)", also when the value does not fit in 64 bits.
Result<uint64_t> ParseSize(std::string_view text);

}  // namespace zlayer::spec
