// Desired state: each deployment's spec as the user sent it, with the
// generation the agent assigned, kept across agent restarts. The agent
// writes a deployment here before acting on it (architecture.md, "A deploy,
// step by step"), so a crash after a Deploy reply loses nothing.
//
// Implementations: FileStore (file_store.h) in the agent, MemoryStore
// (memory_store.h) in tests of its callers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace zlayer::agent::store {

struct StoredDeployment {
  std::string name;         // the spec's `deployment`, [a-z0-9][a-z0-9-]{0,62}
  uint64_t generation = 0;  // assigned by the agent, grows with every change
  std::string spec_yaml;    // the YAML text exactly as received (valid UTF-8)
  std::chrono::system_clock::time_point applied_at;

  bool operator==(const StoredDeployment&) const = default;
};

// A stored deployment that could not be loaded, and why.
struct LoadProblem {
  std::string path;  // where it is stored (a file path for FileStore)
  Status status;     // e.g. kDataLoss "parse error at line 3, column 1: ..."
};

// What LoadAll found: every deployment that loaded, and every one that did
// not. Problems are not fatal: the agent starts with the good ones and reports
// the others (log, status).
struct LoadedState {
  std::vector<StoredDeployment> deployments;  // sorted by name
  std::vector<LoadProblem> problems;          // sorted by path
};

// Returns kInvalidArgument unless `name` matches [a-z0-9][a-z0-9-]{0,62}, the
// spec's rule for deployment names (which also makes it a safe file name).
Status ValidateDeploymentName(std::string_view name);

// Contract shared by every implementation:
//  - Save stores `deployment` under its name, replacing what was there. A
//    generation lower than the stored one is refused with kFailedPrecondition
//    (a stale write must not undo a newer spec); an equal one is accepted, so
//    a retried Save is harmless. After Remove, any generation is accepted.
//    Returns kInvalidArgument for a bad name or a spec that is not UTF-8.
//  - Remove deletes the deployment; kNotFound if there is none.
//  - LoadAll returns an error only when nothing can be read at all.
// Thread safety: none; callers serialize calls (see each implementation for
// where it may run).
class DesiredStateStore {
 public:
  virtual ~DesiredStateStore() = default;

  virtual Status Save(const StoredDeployment& deployment) = 0;
  virtual Result<LoadedState> LoadAll() = 0;
  virtual Status Remove(std::string_view name) = 0;
};

}  // namespace zlayer::agent::store
