// The CLI's side of the agent's API socket: finding it, connecting, deadlines, and
// turning gRPC errors into one line a user understands.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/config.h"
#include "common/status.h"
#include "zlayer/v1/agent.grpc.pb.h"

namespace zlayer::cli {

// The socket to use: `flag` (--socket) when given, else ZLAYER_SOCKET from `env`, else
// the default (common/config.h). A relative --socket is taken relative to `cwd`.
// Only ZLAYER_SOCKET is read from `env`: a bad unrelated ZLAYER_* variable must not
// stop the CLI. Errors: kInvalidArgument when ZLAYER_SOCKET is not an absolute path.
Result<std::string> ResolveSocket(const std::optional<std::string>& flag, const Environment& env,
                                  const std::string& cwd);

// The gRPC target for a Unix socket path: "unix:///run/zlayer/agent.sock".
std::string ChannelTarget(const std::string& socket_path);

// "agent not reachable at PATH (is the node running?)".
std::string NotReachableMessage(std::string_view socket_path);

// Connects to `socket_path` with connect(2) and hangs up, so that a missing socket or
// a dead agent is reported before any RPC is attempted. Errors: kUnavailable with
// NotReachableMessage when the socket is missing or refuses; kPermissionDenied
// ("permission denied on PATH: run as root or as a member of the socket's group");
// kInvalidArgument for a path too long for a Unix socket.
Status ProbeSocket(const std::string& socket_path);

// What went wrong with an RPC, in one line, for `zlayer: <line>`. `command` names the
// command ("ps"); `deadline` is the one the call had, if any (for DEADLINE_EXCEEDED).
// Connection failures become NotReachableMessage; UNIMPLEMENTED becomes "the agent does
// not support <command> yet"; other codes keep the agent's message, which names the
// object and the step.
std::string DescribeRpcError(std::string_view command, const grpc::Status& status,
                             std::string_view socket_path,
                             std::optional<std::chrono::nanoseconds> deadline);

// A channel and stub to the agent. Construct with Connect.
class AgentConnection {
 public:
  // Probes the socket (ProbeSocket) and creates the channel. Errors as ProbeSocket.
  static Result<std::unique_ptr<AgentConnection>> Connect(const std::string& socket_path);

  v1::Agent::Stub& stub() { return *stub_; }
  const std::string& socket_path() const { return socket_path_; }

 private:
  AgentConnection(std::string socket_path, std::shared_ptr<grpc::Channel> channel);
  std::string socket_path_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Agent::Stub> stub_;
};

// Sets `context`'s deadline `d` from now; nullopt leaves it without one.
void SetDeadline(grpc::ClientContext& context, std::optional<std::chrono::nanoseconds> d);

// Cancels a call when no message arrived for `idle` (a pull or import that makes no
// progress). Owns one thread that waits on a condition variable; the destructor stops it.
// Kick() after each message. Thread-safe.
class IdleWatchdog {
 public:
  IdleWatchdog(grpc::ClientContext& context, std::chrono::nanoseconds idle);
  ~IdleWatchdog();
  IdleWatchdog(const IdleWatchdog&) = delete;
  IdleWatchdog& operator=(const IdleWatchdog&) = delete;

  void Kick();
  // True when it cancelled the call.
  bool fired();

 private:
  grpc::ClientContext& context_;
  std::chrono::nanoseconds idle_;
  std::mutex mutex_;  // guards the three fields below
  std::condition_variable changed_;
  std::chrono::steady_clock::time_point last_kick_;
  bool stop_ = false;
  bool fired_ = false;
  std::thread thread_;
};

}  // namespace zlayer::cli
