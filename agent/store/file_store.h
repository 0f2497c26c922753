// Desired state on disk: one JSON file per deployment,
//   <dir>/deployments/<name>.json
//   {"format": 1, "name": ..., "generation": ..., "spec_yaml": ..., "applied_at": "<RFC 3339>"}
//
// Atomic writes: Save writes a temporary file in the same directory
// (".<name>.json.XXXXXX.tmp"), fsyncs it, renames it over <name>.json and
// fsyncs the directory. After Save returns OK the new content survives a
// crash or power loss; before, the old content does. Remove unlinks and
// fsyncs the directory. Temporary files left by a crash are ignored and
// deleted by LoadAll.
//
// Blocking: every call does file I/O and fsync. In the agent it runs on the
// blocking-work pool, never on the io_context thread.
// Thread safety: none; calls must not overlap (the pool runs them one at a
// time). One FileStore per directory; other processes must not write to it.
#pragma once

#include <memory>
#include <string>

#include "agent/store/desired_state_store.h"

namespace zlayer::agent::store {

class FileStore : public DesiredStateStore {
 public:
  // Opens the store rooted at `dir` (normally ZLAYER_DATA_DIR), creating
  // `dir` and <dir>/deployments (0700) if missing. Errors: the errno Status of
  // mkdir naming the directory; kFailedPrecondition if it is not a directory.
  static Result<std::unique_ptr<FileStore>> Open(std::string dir);

  // Errors besides the contract's: the errno Status of the failing step
  // (kResourceExhausted for a full disk) naming the file; the old content
  // then stays, and no temporary file is left.
  Status Save(const StoredDeployment& deployment) override;

  // Reads every <name>.json. A file that cannot be read or parsed, or whose
  // content does not fit its name, becomes a LoadProblem with its path
  // (kDataLoss for content, the errno code for I/O). Errors only when the
  // deployments directory cannot be listed.
  Result<LoadedState> LoadAll() override;

  Status Remove(std::string_view name) override;

  // <dir>/deployments
  const std::string& deployments_dir() const { return deployments_dir_; }
  // <dir>/deployments/<name>.json
  std::string PathOf(std::string_view name) const;

 private:
  explicit FileStore(std::string deployments_dir) : deployments_dir_(std::move(deployments_dir)) {}
  Status SyncDirectory() const;

  std::string deployments_dir_;
};

}  // namespace zlayer::agent::store
