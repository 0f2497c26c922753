#include "cmd/zlayer/cli.h"

#include <fmt/format.h>
#include <unistd.h>

#include <map>

#include "common/log.h"
#include "common/version.h"

namespace zlayer::cli {

Io Io::Standard() {
  Io io;
  io.in_is_terminal = ::isatty(0) == 1;
  io.out_is_terminal = ::isatty(1) == 1;
  return io;
}

bool Io::Out(std::string_view text) const { return WriteAll(out, text); }
bool Io::Err(std::string_view text) const { return WriteAll(err, text); }
bool Io::Write(int fd, std::string_view bytes) const {
  return WriteAll(fd == 2 ? err : out, bytes);
}

Result<std::unique_ptr<AgentConnection>> Context::Connect() const {
  return AgentConnection::Connect(socket);
}

Status Context::RpcError(const grpc::Status& status,
                         std::optional<std::chrono::nanoseconds> deadline) const {
  return Status(static_cast<StatusCode>(static_cast<int>(status.error_code())),
                DescribeRpcError(invocation.command, status, socket, deadline));
}

namespace {

using Handler = Result<int> (*)(Context&);

const std::map<std::string, Handler, std::less<>>& Handlers() {
  static const std::map<std::string, Handler, std::less<>> kHandlers = {
      {"deploy", RunDeploy},
      {"validate", RunValidate},
      {"ps", RunPs},
      {"logs", RunLogs},
      {"exec", RunExec},
      {"inspect", RunInspect},
      {"scale", RunScale},
      {"delete", RunDelete},
      {"images", RunImages},
      {"image import", RunImageImport},
      {"image rm", RunImageRm},
      {"pull", RunPull},
      {"status", RunStatus},
      {"health", RunHealth},
      {"routes", RunRoutes},
      {"certs", RunCerts},
      {"version", RunVersion},
  };
  return kHandlers;
}

std::string CurrentDirectory() {
  std::string buffer(4096, '\0');
  if (::getcwd(buffer.data(), buffer.size()) == nullptr) return "/";
  buffer.resize(std::char_traits<char>::length(buffer.c_str()));
  return buffer;
}

}  // namespace

int Run(const std::vector<std::string>& args, const Environment& env, Io& io) {
  Invocation inv = ParseInvocation(args);
  const CommandSpec* spec = inv.command.empty() ? nullptr : FindCommand(inv.command);
  if (!inv.usage_error.empty()) {
    io.Err(fmt::format("zlayer: {}\n", inv.usage_error));
    io.Err(spec != nullptr ? CommandSynopsis(*spec)
                           : "usage: zlayer [--socket PATH] [--timeout D] COMMAND [ARGS...]\n");
    io.Err(spec != nullptr ? fmt::format("Run `zlayer {} --help` for more.\n", spec->name)
                           : "Run `zlayer --help` for the commands.\n");
    return kExitUsage;
  }
  if (inv.help) {
    io.Out(spec != nullptr ? CommandHelp(*spec) : GlobalUsage());
    return kExitOk;
  }
  if (inv.version_flag && spec == nullptr) {
    io.Out(fmt::format("zlayer {}\n", kVersion));
    return kExitOk;
  }

  int failure = inv.command == "exec" ? kExitExecFailure : kExitFailure;
  std::string cwd = CurrentDirectory();
  auto socket = ResolveSocket(inv.socket, env, cwd);
  if (!socket.ok()) {
    io.Err(fmt::format("zlayer: {}\n", socket.status().message()));
    return failure;
  }
  Context ctx{inv,
              env,
              io,
              *socket,
              cwd,
              inv.timeout.value_or(std::chrono::nanoseconds(kDefaultTimeout)),
              inv.timeout.has_value()};
  auto handler = Handlers().find(inv.command);
  if (handler == Handlers().end()) {
    // The table and the handlers disagree: a programming error.
    io.Err(fmt::format("zlayer: {}: not implemented in this client\n", inv.command));
    return kExitFailure;
  }
  Result<int> result = handler->second(ctx);
  if (!result.ok()) {
    io.Err(fmt::format("zlayer: {}\n", result.status().message()));
    return failure;
  }
  return *result;
}

}  // namespace zlayer::cli
