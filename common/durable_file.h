// Small files that must survive a crash whole: written to "<path>.tmp",
// fsynced, then renamed over `path`, so a reader sees the old content or the
// new one, never a part. Blocking: call on a pool, not an event loop.
#pragma once

#include <string>

#include "common/status.h"

namespace zlayer {

// Writes `content` to `path` that way, creating missing parent directories (0755).
Status WriteFileDurably(const std::string& path, const std::string& content);

}  // namespace zlayer
