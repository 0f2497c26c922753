// Names in specs and the containerd identifiers derived from them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace zlayer::spec {

// The labels every container the agent creates carries in containerd (runtime::ContainerLabels
// sets them, reconcile::Observe reads them back after a restart).
inline constexpr const char* kLabelDeployment = "zlayer.deployment";
inline constexpr const char* kLabelService = "zlayer.service";
inline constexpr const char* kLabelReplica = "zlayer.replica";     // decimal index, "0"
inline constexpr const char* kLabelSpecHash = "zlayer.spec-hash";  // ServiceHash(service)

// containerd's limit for container, namespace and exec ids.
inline constexpr size_t kMaxContainerIdLength = 76;

// The most replicas one service may ask for. It bounds the replica index (at most
// kMaxReplicas - 1), so the parser can check that every container id of a service fits
// kMaxContainerIdLength before anything is created.
inline constexpr uint32_t kMaxReplicas = 1000;

// True when `name` matches [a-z0-9][a-z0-9-]{0,62}: the rule for deployment and service
// names. Such a name can still make an invalid container id ("web-" gives "app-web--0");
// ValidateContainerId says so.
bool IsValidName(std::string_view name);

// True for an RFC 1123 host name (dot-separated labels of letters, digits and '-', neither
// starting nor ending with '-') within Linux's HOST_NAME_MAX of 64 characters.
bool IsValidHostname(std::string_view hostname);

// "<deployment>-<service>-<replica_index>", e.g. "hello-web-0". Never fails; the result is a
// valid containerd id when ValidateContainerId accepts it (ParseSpec checks this for every
// replica index below kMaxReplicas).
std::string ContainerId(std::string_view deployment, std::string_view service,
                        uint32_t replica_index);

// OK when `id` matches containerd's identifier rule ^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$ and
// has at most kMaxContainerIdLength characters. Otherwise kInvalidArgument naming the id and
// the broken rule.
Status ValidateContainerId(std::string_view id);

// True when `reference` is an image reference as Docker and containerd understand it:
// [host[:port]/]path[:tag][@algorithm:hex], path components lower case. "nginx",
// "127.0.0.1:5000/busybox:latest", "ghcr.io/org/app@sha256:<64 hex>". No normalization.
bool IsValidImageReference(std::string_view reference);

}  // namespace zlayer::spec
