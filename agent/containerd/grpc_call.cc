#include "agent/containerd/grpc_call.h"

#include <fmt/format.h>

namespace zlayer::containerd {

void PrepareContext(grpc::ClientContext& context, const std::string& namespace_name,
                    const CallSettings& settings) {
  if (settings.timeout) context.set_deadline(std::chrono::system_clock::now() + *settings.timeout);
  context.set_wait_for_ready(false);
  context.AddMetadata(kNamespaceHeader, namespace_name);
  if (!settings.lease.empty()) context.AddMetadata(kLeaseHeader, settings.lease);
}

std::chrono::milliseconds TimeoutForBytes(std::chrono::milliseconds call_timeout, int64_t bytes,
                                          int64_t bytes_per_second) {
  if (bytes <= 0 || bytes_per_second <= 0) return call_timeout;
  return call_timeout +
         std::chrono::milliseconds(bytes / bytes_per_second * 1000 +
                                   bytes % bytes_per_second * 1000 / bytes_per_second);
}

std::string CallName(std::string_view operation, std::string_view object) {
  if (object.empty()) return std::string(operation);
  return fmt::format("{} {}", operation, object);
}

Status FromGrpcStatus(const grpc::Status& status, std::string_view operation,
                      std::string_view object) {
  if (status.ok()) return Status::Ok();
  const int grpc_code = static_cast<int>(status.error_code());
  StatusCode code = StatusCode::kUnknown;
  if (grpc_code == grpc::StatusCode::UNAUTHENTICATED) {
    code = StatusCode::kPermissionDenied;
  } else if (grpc_code > 0 && grpc_code <= static_cast<int>(StatusCode::kDataLoss)) {
    code = static_cast<StatusCode>(grpc_code);
  }
  std::string detail = status.error_message();
  if (detail.empty()) detail = std::string(StatusCodeName(code));
  return Status(code, fmt::format("{}: {}", CallName(operation, object), detail));
}

}  // namespace zlayer::containerd
