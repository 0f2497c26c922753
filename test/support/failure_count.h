// Lets fixtures tell, when they are destroyed, whether the running test has
// failed, so they print their diagnostics (logs of the programs they ran)
// only then.
#pragma once

#include <cstdint>

namespace zlayer::testing {

// Failed assertions (CHECK, REQUIRE, unexpected exceptions) so far in this
// test binary. Compare a value taken at construction with one taken later.
std::uint64_t FailedAssertionCount();

}  // namespace zlayer::testing
