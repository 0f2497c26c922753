// The model as JSON, and the content hash that decides whether a replica must be rolled.
#pragma once

#include <string>

#include "agent/spec/model.h"

namespace zlayer::spec {

// Every field of the deployment as JSON, keys spelled as in YAML, enums by their YAML names,
// durations as exact strings ("10s", "1500ms"), sizes in bytes, the stop signal by name,
// unlimited rlimits as "unlimited". Absent optional fields are left out. `indent` < 0 gives
// one line. For `zlayer inspect` and logs; not meant to be parsed back as a spec.
std::string DeploymentToJson(const Deployment& deployment, int indent = 2);
std::string ServiceToJson(const Service& service, int indent = 2);

// SHA-256 (lower-case hex, 64 characters) of the service's canonical JSON (ServiceToJson
// with sorted keys, one line), without the fields the agent applies to running replicas
// without recreating them: scale, depends, restart_policy, health and stop_grace_period.
// Equal services hash equally in every process and version; a replica whose label differs
// from its service's hash was made from another spec and is rolled. So that an upgrade does
// not roll every replica, a field added to Service later must be left out of the JSON while
// it holds its default.
std::string ServiceHash(const Service& service);

}  // namespace zlayer::spec
