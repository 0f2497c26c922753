// Small files that must survive a crash whole: written to "<path>.tmp",
// fsynced, then renamed over `path`, so a reader sees the old content or the
// new one, never a part. Blocking: call on a pool, not an event loop.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace zlayer {

// Writes `content` to `path` that way, creating missing parent directories (0755).
// The file gets `mode` (0600 for one holding a private key).
Status WriteFileDurably(const std::string& path, const std::string& content, mode_t mode = 0644);

}  // namespace zlayer
