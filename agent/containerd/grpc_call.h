// Private to zlayer_containerd: what every call to containerd's gRPC API shares,
// namely the ClientContext set-up (deadline, namespace and lease headers) and the
// conversion of grpc::Status into zlayer::Status.
#pragma once

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace zlayer::containerd {

// gRPC metadata keys containerd reads on every namespaced call.
inline constexpr const char* kNamespaceHeader = "containerd-namespace";
inline constexpr const char* kLeaseHeader = "containerd-lease";

// How one call is made. `timeout` empty means no deadline (event streams only).
struct CallSettings {
  std::optional<std::chrono::milliseconds> timeout;
  std::string lease;  // empty: the call runs under no lease
};

// Prepares a fresh `context` for one call in `namespace_name`: deadline, the
// namespace header, the lease header when a lease is given, and fail-fast (no
// wait_for_ready) so that calls made while containerd is away end at once
// with UNAVAILABLE.
void PrepareContext(grpc::ClientContext& context, const std::string& namespace_name,
                    const CallSettings& settings);

// Converts a gRPC status into a Status with the same code (gRPC's numbering is
// ours; UNAUTHENTICATED, which we lack, becomes kPermissionDenied) and the
// message "<operation> <object>: <grpc message>", e.g.
// "tasks.start web-0: container not created". An empty `object` is left out.
// OK stays OK.
Status FromGrpcStatus(const grpc::Status& status, std::string_view operation,
                      std::string_view object);

// A deadline for a call that moves `bytes`: `call_timeout` plus the time to
// move them at `bytes_per_second`, so that big blobs still fit while a hung
// daemon cannot block the caller forever.
std::chrono::milliseconds TimeoutForBytes(std::chrono::milliseconds call_timeout, int64_t bytes,
                                          int64_t bytes_per_second);

// "<operation> <object>" (or just the operation when `object` is empty): the
// prefix of every error message about one call.
std::string CallName(std::string_view operation, std::string_view object);

}  // namespace zlayer::containerd
