// The in-memory DesiredStateStore for unit tests of its callers (reconcile
// loop, API). Same contract as FileStore, plus fault injection and counters.
//
// Thread safety: none.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "agent/store/desired_state_store.h"

namespace zlayer::agent::store {

class MemoryStore : public DesiredStateStore {
 public:
  Status Save(const StoredDeployment& deployment) override;
  Result<LoadedState> LoadAll() override;
  Status Remove(std::string_view name) override;

  // While `error` is not OK, Save, Remove and LoadAll return it and change
  // nothing (a full disk, an unreadable directory).
  void set_error(Status error) { error_ = std::move(error); }
  // LoadAll reports `problem` (as a corrupt file would be) from now on.
  void AddLoadProblem(LoadProblem problem) { problems_.push_back(std::move(problem)); }

  // Successful calls so far.
  int saves() const { return saves_; }
  int removes() const { return removes_; }

 private:
  std::map<std::string, StoredDeployment, std::less<>> deployments_;
  std::vector<LoadProblem> problems_;
  Status error_;
  int saves_ = 0;
  int removes_ = 0;
};

}  // namespace zlayer::agent::store
