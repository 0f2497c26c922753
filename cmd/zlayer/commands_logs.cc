// logs.
#include <fmt/format.h>

#include "cmd/zlayer/commands.h"
#include "cmd/zlayer/log_printer.h"
#include "cmd/zlayer/render.h"

namespace zlayer::cli {

Result<int> RunLogs(Context& ctx) {
  const Invocation& inv = ctx.invocation;
  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  v1::LogsRequest request;
  request.set_target(inv.target);
  request.set_follow(inv.follow);
  if (inv.tail) request.set_tail(*inv.tail);
  if (inv.since) {
    *request.mutable_since() =
        ToTimestamp(Clock::now() - std::chrono::duration_cast<Clock::duration>(*inv.since));
  }
  grpc::ClientContext context;
  auto deadline = inv.follow ? ctx.OpenDeadline() : ctx.BoundedDeadline();
  SetDeadline(context, deadline);
  auto stream = (*connection)->stub().Logs(&context, request);

  bool reader_gone = false;
  LogPrinter printer([&](int fd, std::string_view bytes) {
    if (!reader_gone && !ctx.io.Write(fd, bytes)) reader_gone = true;
  });
  v1::LogsResponse response;
  while (stream->Read(&response)) {
    printer.Print(response);
    if (reader_gone) {
      // `zlayer logs -f web | head`: the reader has what it wanted.
      context.TryCancel();
      break;
    }
  }
  printer.Finish();
  grpc::Status status = stream->Finish();
  if (reader_gone) return kExitOk;
  if (!status.ok()) return ctx.RpcError(status, deadline);
  return kExitOk;
}

}  // namespace zlayer::cli
