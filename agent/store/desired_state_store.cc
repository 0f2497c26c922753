#include "agent/store/desired_state_store.h"

#include <fmt/format.h>

namespace zlayer::agent::store {

Status ValidateDeploymentName(std::string_view name) {
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = !name.empty() && name.size() <= 63 && lower_or_digit(name[0]);
  for (char c : name) ok = ok && (lower_or_digit(c) || c == '-');
  if (ok) return Status::Ok();
  return InvalidArgumentError(
      fmt::format("invalid deployment name {:?}: must match [a-z0-9][a-z0-9-]{{0,62}}", name));
}

}  // namespace zlayer::agent::store
