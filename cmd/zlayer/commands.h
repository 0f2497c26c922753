// The commands of `zlayer`: each is one function that makes one RPC and prints the
// answer. They share a Context (the parsed command line, the socket, the deadlines and
// where to write).
//
// A command returns its exit code, or a non-OK Status whose message is the one line
// printed as `zlayer: <message>` (exit 1; 125 for exec). Usage errors never reach a
// command: ParseInvocation has caught them.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cmd/zlayer/connection.h"
#include "cmd/zlayer/invocation.h"
#include "common/config.h"
#include "common/status.h"

namespace zlayer::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
// exec: zlayer itself failed (Docker's convention), so scripts can tell it from the
// process's own exit codes.
inline constexpr int kExitExecFailure = 125;

inline constexpr std::chrono::seconds kDefaultTimeout{30};

// The process's standard streams. Writes go straight to the descriptors (write(2), all
// bytes, EINTR retried), so output interleaves correctly with child-less raw modes.
struct Io {
  int in = 0;
  int out = 1;
  int err = 2;
  bool in_is_terminal = false;
  bool out_is_terminal = false;

  // Descriptors 0, 1, 2 with isatty() checked.
  static Io Standard();

  // Each returns false when the descriptor is gone (EPIPE: the reader went away).
  bool Out(std::string_view text) const;
  bool Err(std::string_view text) const;
  bool Write(int fd, std::string_view bytes) const;  // fd 1 or 2
};

struct Context {
  const Invocation& invocation;
  const Environment& env;
  Io& io;
  std::string socket;                // resolved socket path
  std::string cwd;                   // for relative paths sent to the agent
  std::chrono::nanoseconds timeout;  // --timeout, or kDefaultTimeout
  bool timeout_given = false;

  // The deadline of a call that answers once (or streams a bounded answer).
  std::optional<std::chrono::nanoseconds> BoundedDeadline() const { return timeout; }
  // The deadline of a call that runs as long as the user wants (logs -f, deploy --wait,
  // exec): none unless --timeout was given.
  std::optional<std::chrono::nanoseconds> OpenDeadline() const {
    return timeout_given ? std::optional(timeout) : std::nullopt;
  }
  // Connects to the agent (AgentConnection::Connect).
  Result<std::unique_ptr<AgentConnection>> Connect() const;
  // The failed RPC as the Status to report (DescribeRpcError).
  Status RpcError(const grpc::Status& status,
                  std::optional<std::chrono::nanoseconds> deadline) const;
};

// Deployments (commands_deploy.cc).
Result<int> RunDeploy(Context& ctx);
Result<int> RunValidate(Context& ctx);
Result<int> RunDelete(Context& ctx);
Result<int> RunScale(Context& ctx);

// Queries (commands_query.cc).
Result<int> RunPs(Context& ctx);
Result<int> RunInspect(Context& ctx);
Result<int> RunStatus(Context& ctx);
Result<int> RunHealth(Context& ctx);
Result<int> RunRoutes(Context& ctx);
Result<int> RunCerts(Context& ctx);
Result<int> RunVersion(Context& ctx);

// Logs and exec (commands_logs.cc, commands_exec.cc).
Result<int> RunLogs(Context& ctx);
Result<int> RunExec(Context& ctx);

// Images (commands_images.cc).
Result<int> RunImages(Context& ctx);
Result<int> RunImageImport(Context& ctx);
Result<int> RunImageRm(Context& ctx);
Result<int> RunPull(Context& ctx);

}  // namespace zlayer::cli
