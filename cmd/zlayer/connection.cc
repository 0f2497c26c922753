#include "cmd/zlayer/connection.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/duration.h"

namespace zlayer::cli {

Result<std::string> ResolveSocket(const std::optional<std::string>& flag, const Environment& env,
                                  const std::string& cwd) {
  if (flag) {
    if (!flag->empty() && (*flag)[0] == '/') return *flag;
    return cwd + (cwd.empty() || cwd.back() == '/' ? "" : "/") + *flag;
  }
  Environment only_socket;
  if (auto it = env.find("ZLAYER_SOCKET"); it != env.end()) only_socket.insert(*it);
  auto config = LoadNodeConfig(only_socket);
  if (!config.ok()) return config.status();
  return config->agent_socket;
}

std::string ChannelTarget(const std::string& socket_path) { return "unix://" + socket_path; }

std::string NotReachableMessage(std::string_view socket_path) {
  return fmt::format("agent not reachable at {} (is the node running?)", socket_path);
}

Status ProbeSocket(const std::string& socket_path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(address.sun_path)) {
    return InvalidArgumentError(fmt::format("socket path {} is too long ({} bytes, at most {})",
                                            socket_path, socket_path.size(),
                                            sizeof(address.sun_path) - 1));
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket");
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  } while (rc != 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (rc == 0) return Status::Ok();
  if (err == EACCES || err == EPERM) {
    return PermissionDeniedError(fmt::format(
        "permission denied on {}: run as root or as a member of the socket's group", socket_path));
  }
  return UnavailableError(NotReachableMessage(socket_path));
}

std::string DescribeRpcError(std::string_view command, const grpc::Status& status,
                             std::string_view socket_path,
                             std::optional<std::chrono::nanoseconds> deadline) {
  const std::string& message = status.error_message();
  auto with_message = [&](std::string_view fallback) {
    return fmt::format("{}: {}", command, message.empty() ? std::string(fallback) : message);
  };
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      // gRPC's own connection failures, as opposed to the agent saying that containerd
      // or a registry is unavailable.
      if (message.empty() || message.find("failed to connect") != std::string::npos ||
          message.find("Connection refused") != std::string::npos ||
          message.find("No such file") != std::string::npos ||
          message.find("Socket closed") != std::string::npos ||
          message.find("Connection reset") != std::string::npos ||
          message.find("connections to all backends failing") != std::string::npos) {
        return NotReachableMessage(socket_path);
      }
      return with_message("unavailable");
    case grpc::StatusCode::UNIMPLEMENTED:
      return fmt::format("the agent does not support {} yet", command);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      if (deadline) {
        return fmt::format(
            "{}: no answer from the agent within {} (work it accepted carries on; "
            "use --timeout to wait longer)",
            command, FormatDuration(*deadline));
      }
      return with_message("deadline exceeded");
    case grpc::StatusCode::PERMISSION_DENIED:
      return fmt::format("{}: permission denied{}: run as root or as a member of the group of {}",
                         command, message.empty() ? "" : " (" + message + ")", socket_path);
    case grpc::StatusCode::CANCELLED:
      return with_message("cancelled");
    case grpc::StatusCode::INTERNAL:
      return fmt::format("{}: internal error in the agent: {}", command, message);
    default:
      return with_message(
          StatusCodeName(static_cast<StatusCode>(static_cast<int>(status.error_code()))));
  }
}

AgentConnection::AgentConnection(std::string socket_path, std::shared_ptr<grpc::Channel> channel)
    : socket_path_(std::move(socket_path)),
      channel_(std::move(channel)),
      stub_(v1::Agent::NewStub(channel_)) {}

Result<std::unique_ptr<AgentConnection>> AgentConnection::Connect(const std::string& socket_path) {
  ZLAYER_RETURN_IF_ERROR(ProbeSocket(socket_path));
  grpc::ChannelArguments args;
  // Lists and inspect answers of a busy node can exceed gRPC's 4 MiB default.
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(ChannelTarget(socket_path),
                                           grpc::InsecureChannelCredentials(), args);
  return std::unique_ptr<AgentConnection>(new AgentConnection(socket_path, std::move(channel)));
}

void SetDeadline(grpc::ClientContext& context, std::optional<std::chrono::nanoseconds> d) {
  if (d) context.set_deadline(std::chrono::system_clock::now() + *d);
}

IdleWatchdog::IdleWatchdog(grpc::ClientContext& context, std::chrono::nanoseconds idle)
    : context_(context), idle_(idle), last_kick_(std::chrono::steady_clock::now()) {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      auto due = last_kick_ + idle_;
      if (std::chrono::steady_clock::now() >= due) {
        fired_ = true;
        context_.TryCancel();
        return;
      }
      changed_.wait_until(lock, due);
    }
  });
}

IdleWatchdog::~IdleWatchdog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void IdleWatchdog::Kick() {
  std::lock_guard lock(mutex_);
  last_kick_ = std::chrono::steady_clock::now();
}

bool IdleWatchdog::fired() {
  std::lock_guard lock(mutex_);
  return fired_;
}

}  // namespace zlayer::cli
