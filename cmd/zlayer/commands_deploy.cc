// deploy, validate, delete, scale.
#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include "cmd/zlayer/commands.h"
#include "cmd/zlayer/format.h"
#include "cmd/zlayer/render.h"
#include "cmd/zlayer/spec_check.h"

namespace zlayer::cli {

Result<int> RunValidate(Context& ctx) {
  const std::string& file = ctx.invocation.file;
  CheckedSpec checked = CheckSpecFile(file);
  if (!checked.result.ok()) {
    ctx.io.Err(RenderProblems(checked.result.problems));
    return kExitFailure;
  }
  const spec::Deployment& d = *checked.result.deployment;
  ctx.io.Out(fmt::format("{}: valid (deployment {}, {})\n", file, d.name,
                         Plural(d.services.size(), "service")));
  return kExitOk;
}

Result<int> RunDeploy(Context& ctx) {
  const Invocation& inv = ctx.invocation;
  CheckedSpec checked = CheckSpecFile(inv.file);
  if (!checked.result.ok()) {
    ctx.io.Err(RenderProblems(checked.result.problems));
    return kExitFailure;
  }
  const std::string deployment = checked.result.deployment->name;

  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  v1::DeployRequest request;
  request.set_spec_yaml(checked.text);
  request.set_source_name(inv.file);
  request.set_dry_run(inv.dry_run);
  request.set_wait(inv.wait);
  if (inv.progress_deadline) {
    *request.mutable_progress_deadline() =
        google::protobuf::util::TimeUtil::NanosecondsToDuration(inv.progress_deadline->count());
  }
  grpc::ClientContext context;
  auto deadline = inv.wait ? ctx.OpenDeadline() : ctx.BoundedDeadline();
  SetDeadline(context, deadline);
  auto stream = (*connection)->stub().Deploy(&context, request);

  bool answered = false;
  bool rejected = false;
  std::optional<v1::DeployFinished> finished;
  v1::DeployResponse response;
  while (stream->Read(&response)) {
    switch (response.event_case()) {
      case v1::DeployResponse::kAccepted:
        answered = true;
        ctx.io.Out(RenderDeployAccepted(response.accepted()));
        break;
      case v1::DeployResponse::kRejected:
        answered = true;
        rejected = true;
        ctx.io.Err(RenderProblems(ToProblems(response.rejected().problems())));
        break;
      case v1::DeployResponse::kFinished:
        finished = response.finished();
        break;
      default:
        ctx.io.Out(RenderDeployProgress(response));
        break;
    }
  }
  grpc::Status status = stream->Finish();
  // The status of a rejection repeats the problems just printed.
  if (rejected) return kExitFailure;
  if (!status.ok()) return ctx.RpcError(status, deadline);
  if (!answered) {
    return InternalError(fmt::format("deploy: the agent ended the call without an answer"));
  }
  if (!inv.wait || inv.dry_run) return kExitOk;
  if (!finished) {
    return UnavailableError(
        fmt::format("deploy: the agent ended the call before deployment {} finished", deployment));
  }
  if (finished->outcome() == v1::DeployFinished::OUTCOME_CONVERGED) {
    ctx.io.Out(fmt::format("deployment {}: {}\n", deployment, DescribeFinished(*finished)));
    return kExitOk;
  }
  return FailedPreconditionError(
      fmt::format("deployment {}: {}", deployment, DescribeFinished(*finished)));
}

Result<int> RunDelete(Context& ctx) {
  const Invocation& inv = ctx.invocation;
  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  v1::DeleteRequest request;
  request.set_deployment(inv.deployment);
  request.set_wait(inv.wait);
  v1::DeleteResponse response;
  grpc::ClientContext context;
  SetDeadline(context, ctx.BoundedDeadline());
  grpc::Status status = (*connection)->stub().Delete(&context, request, &response);
  if (!status.ok()) return ctx.RpcError(status, ctx.BoundedDeadline());
  if (inv.wait) {
    ctx.io.Out(fmt::format("deleted deployment {} ({} stopped)\n", inv.deployment,
                           Plural(response.replicas_stopped(), "replica")));
  } else {
    ctx.io.Out(fmt::format("deleting deployment {} ({} stopping in the background)\n",
                           inv.deployment, Plural(response.replicas_stopped(), "replica")));
  }
  return kExitOk;
}

Result<int> RunScale(Context& ctx) {
  const Invocation& inv = ctx.invocation;
  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  v1::ScaleRequest request;
  request.set_deployment(inv.deployment);
  request.set_service(inv.service);
  request.set_replicas(inv.replicas);
  v1::ScaleResponse response;
  grpc::ClientContext context;
  SetDeadline(context, ctx.BoundedDeadline());
  grpc::Status status = (*connection)->stub().Scale(&context, request, &response);
  if (!status.ok()) return ctx.RpcError(status, ctx.BoundedDeadline());
  if (response.previous_replicas() == inv.replicas) {
    ctx.io.Out(fmt::format("{}/{}: already {} (generation {})\n", inv.deployment, inv.service,
                           Plural(inv.replicas, "replica"), response.generation()));
  } else {
    ctx.io.Out(fmt::format("{}/{}: scaled from {} to {} (generation {})\n", inv.deployment,
                           inv.service, response.previous_replicas(),
                           Plural(inv.replicas, "replica"), response.generation()));
  }
  return kExitOk;
}

}  // namespace zlayer::cli
