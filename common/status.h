// Errors as values, shared by every zlayer program.
//
// A Status is OK or an error code plus a human message that names what failed
// ("task web-0: start: permission denied"). Errors are created where they enter
// our code (errno at the OS edge, grpc::Status at the containerd client, YAML
// exceptions in the spec parser) and wrapped with context on the way up.
// Result<T> carries either a value or a non-OK Status.
//
// Thread safety: plain values; copy freely.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace zlayer {

// The codes mirror gRPC's, so converting at the API boundary is one switch.
enum class StatusCode {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// Returns "not found" for kNotFound and so on.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "<context>: <message>". OK stays OK.
  Status Wrap(std::string_view context) const;

  // "message" for errors, "ok" for OK.
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

Status InvalidArgumentError(std::string message);
Status NotFoundError(std::string message);
Status FailedPreconditionError(std::string message);
Status UnavailableError(std::string message);
Status InternalError(std::string message);
Status DeadlineExceededError(std::string message);
Status PermissionDeniedError(std::string message);
Status AlreadyExistsError(std::string message);
Status UnimplementedError(std::string message);

// Converts an errno value into a Status whose message is
// "<what>: <strerror(err)>", with a code that matches the errno's meaning
// (ENOENT -> kNotFound, EACCES/EPERM -> kPermissionDenied, ...).
Status ErrnoError(std::string_view what, int err = errno);

// A value or an error. Construct from a T for success, from a non-OK Status
// for failure (constructing from an OK Status is a programming error and aborts).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) std::abort();
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace zlayer

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define ZLAYER_RETURN_IF_ERROR(expr)                \
  do {                                              \
    ::zlayer::Status zlayer_status_ = (expr);       \
    if (!zlayer_status_.ok()) return zlayer_status_; \
  } while (0)
