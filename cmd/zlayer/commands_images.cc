// images, image import, image rm, pull.
#include <fmt/format.h>

#include <filesystem>

#include "cmd/zlayer/commands.h"
#include "cmd/zlayer/format.h"
#include "cmd/zlayer/progress_view.h"
#include "cmd/zlayer/render.h"

namespace zlayer::cli {

namespace {

std::string DescribeImage(const v1::Image& image) {
  return fmt::format("{} ({}, {})", image.name(), ShortDigest(image.digest()),
                     FormatBytes(image.size()));
}

// The end of a progress stream: the watchdog's verdict comes first, since a call it
// cancelled ends CANCELLED, which would otherwise read as the user's doing.
Status ProgressStreamError(Context& ctx, IdleWatchdog& watchdog, const grpc::Status& status) {
  if (watchdog.fired()) {
    return DeadlineExceededError(fmt::format(
        "{}: no progress from the agent for {} (it may carry on; use --timeout to wait longer)",
        ctx.invocation.command, FormatSpan(ctx.timeout)));
  }
  return ctx.RpcError(status, std::nullopt);
}

}  // namespace

Result<int> RunImages(Context& ctx) {
  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  v1::ListImagesResponse response;
  grpc::ClientContext context;
  SetDeadline(context, ctx.BoundedDeadline());
  grpc::Status status =
      (*connection)->stub().ListImages(&context, v1::ListImagesRequest(), &response);
  if (!status.ok()) return ctx.RpcError(status, ctx.BoundedDeadline());
  if (ctx.invocation.output == OutputFormat::kJson) {
    auto json = ToJson(response);
    if (!json.ok()) return json.status();
    ctx.io.Out(*json);
  } else {
    ctx.io.Out(RenderImageTable(response));
  }
  return kExitOk;
}

Result<int> RunImageRm(Context& ctx) {
  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  v1::RemoveImageRequest request;
  request.set_reference(ctx.invocation.reference);
  request.set_force(ctx.invocation.force);
  v1::RemoveImageResponse response;
  grpc::ClientContext context;
  SetDeadline(context, ctx.BoundedDeadline());
  grpc::Status status = (*connection)->stub().RemoveImage(&context, request, &response);
  if (!status.ok()) return ctx.RpcError(status, ctx.BoundedDeadline());
  ctx.io.Out(fmt::format("removed {}\n", response.has_image() ? DescribeImage(response.image())
                                                              : ctx.invocation.reference));
  return kExitOk;
}

Result<int> RunImageImport(Context& ctx) {
  const Invocation& inv = ctx.invocation;
  // The agent opens the file, and it does not share our working directory.
  std::string path = std::filesystem::path(inv.file).is_absolute()
                         ? inv.file
                         : (std::filesystem::path(ctx.cwd) / inv.file).lexically_normal().string();
  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  v1::ImportImageRequest request;
  request.set_path(path);
  request.set_name(inv.image_name);
  grpc::ClientContext context;
  IdleWatchdog watchdog(context, ctx.timeout);
  auto stream = (*connection)->stub().ImportImage(&context, request);
  ProgressView view(
      ctx.io.out_is_terminal, [&](std::string_view text) { ctx.io.Out(text); },
      ProgressSource::kImport);
  int imported = 0;
  v1::ImportImageResponse response;
  while (stream->Read(&response)) {
    watchdog.Kick();
    if (response.has_progress()) {
      view.Update(response.progress(), std::chrono::steady_clock::now());
    } else if (response.has_imported()) {
      view.Close();
      ++imported;
      ctx.io.Out(fmt::format("imported {}\n", DescribeImage(response.imported())));
    }
  }
  view.Close();
  grpc::Status status = stream->Finish();
  if (!status.ok()) return ProgressStreamError(ctx, watchdog, status);
  if (imported == 0) return InternalError("image import: the agent reported no imported image");
  return kExitOk;
}

Result<int> RunPull(Context& ctx) {
  const Invocation& inv = ctx.invocation;
  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  v1::PullImageRequest request;
  request.set_reference(inv.reference);
  request.set_platform(inv.platform);
  grpc::ClientContext context;
  IdleWatchdog watchdog(context, ctx.timeout);
  auto stream = (*connection)->stub().PullImage(&context, request);
  ProgressView view(ctx.io.out_is_terminal, [&](std::string_view text) { ctx.io.Out(text); });
  bool pulled = false;
  v1::PullImageResponse response;
  while (stream->Read(&response)) {
    watchdog.Kick();
    auto now = std::chrono::steady_clock::now();
    switch (response.event_case()) {
      case v1::PullImageResponse::kResolved: {
        const auto& r = response.resolved();
        ctx.io.Out(fmt::format("pulling {}@{}{}\n", r.name(), r.digest(),
                               r.platform().empty() ? "" : " for " + r.platform()));
        view.Expect(r.blobs(), now);
        break;
      }
      case v1::PullImageResponse::kProgress:
        view.Update(response.progress(), now);
        break;
      case v1::PullImageResponse::kPulled:
        view.Close();
        pulled = true;
        ctx.io.Out(fmt::format("pulled {}\n", DescribeImage(response.pulled())));
        break;
      default:
        break;
    }
  }
  view.Close();
  grpc::Status status = stream->Finish();
  if (!status.ok()) return ProgressStreamError(ctx, watchdog, status);
  if (!pulled) return InternalError("pull: the agent ended the call without the pulled image");
  return kExitOk;
}

}  // namespace zlayer::cli
