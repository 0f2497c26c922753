// Changes to a stored spec that the agent makes on the user's behalf.
//
// `zlayer scale` changes one number of the deployment's desired state; the
// spec text stays the one source of truth (what is stored, what a restart
// reloads), so the change is made to the YAML document itself. A later
// `zlayer deploy` of the user's file sets the count back to the file's, as
// `kubectl apply` does.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace zlayer::spec {

// Returns `yaml` with `services.<service>.scale.replicas` set to `replicas`
// (and `scale` created when absent). The document is re-emitted, so comments
// and formatting are not kept. kNotFound when the service does not exist;
// kInvalidArgument when `yaml` is not a mapping with `services`.
Result<std::string> WithReplicas(const std::string& yaml, const std::string& service,
                                 uint32_t replicas);

}  // namespace zlayer::spec
