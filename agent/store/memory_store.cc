#include "agent/store/memory_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace zlayer::agent::store {
namespace {

bool IsUtf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

}  // namespace

Status MemoryStore::Save(const StoredDeployment& deployment) {
  ZLAYER_RETURN_IF_ERROR(error_);
  ZLAYER_RETURN_IF_ERROR(ValidateDeploymentName(deployment.name));
  if (!IsUtf8(deployment.spec_yaml)) {
    return InvalidArgumentError(
        fmt::format("deployment {}: spec is not valid UTF-8", deployment.name));
  }
  auto it = deployments_.find(deployment.name);
  if (it != deployments_.end() && it->second.generation > deployment.generation) {
    return FailedPreconditionError(
        fmt::format("deployment {}: generation {} is older than the stored {}", deployment.name,
                    deployment.generation, it->second.generation));
  }
  deployments_[deployment.name] = deployment;
  ++saves_;
  return Status::Ok();
}

Result<LoadedState> MemoryStore::LoadAll() {
  ZLAYER_RETURN_IF_ERROR(error_);
  LoadedState state;
  for (const auto& [name, deployment] : deployments_) state.deployments.push_back(deployment);
  state.problems = problems_;
  std::sort(state.problems.begin(), state.problems.end(),
            [](const LoadProblem& a, const LoadProblem& b) { return a.path < b.path; });
  return state;
}

Status MemoryStore::Remove(std::string_view name) {
  ZLAYER_RETURN_IF_ERROR(error_);
  ZLAYER_RETURN_IF_ERROR(ValidateDeploymentName(name));
  auto it = deployments_.find(name);
  if (it == deployments_.end()) {
    return NotFoundError(fmt::format("deployment {}: not stored", name));
  }
  deployments_.erase(it);
  ++removes_;
  return Status::Ok();
}

}  // namespace zlayer::agent::store
