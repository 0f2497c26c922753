// ps, inspect, status, health, routes, certs, version.
#include <fmt/format.h>

#include "cmd/zlayer/commands.h"
#include "cmd/zlayer/render.h"
#include "common/version.h"

namespace zlayer::cli {

namespace {

// Prints `response` as JSON or with `render`.
template <typename Response, typename Render>
Result<int> Print(Context& ctx, const Response& response, Render render) {
  if (ctx.invocation.output == OutputFormat::kJson) {
    auto json = ToJson(response);
    if (!json.ok()) return json.status();
    ctx.io.Out(*json);
  } else {
    ctx.io.Out(render(response));
  }
  return kExitOk;
}

}  // namespace

Result<int> RunPs(Context& ctx) {
  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  v1::ListRequest request;
  request.set_deployment(ctx.invocation.deployment);
  request.set_service(ctx.invocation.service);
  v1::ListResponse response;
  grpc::ClientContext context;
  SetDeadline(context, ctx.BoundedDeadline());
  grpc::Status status = (*connection)->stub().List(&context, request, &response);
  if (!status.ok()) return ctx.RpcError(status, ctx.BoundedDeadline());
  return Print(ctx, response, [](const v1::ListResponse& list) {
    std::string text = RenderReplicaTable(list, Clock::now());
    std::string notes = RenderListNotes(list);
    if (!notes.empty()) text += "\n" + notes;
    return text;
  });
}

Result<int> RunInspect(Context& ctx) {
  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  v1::InspectRequest request;
  request.set_target(ctx.invocation.target);
  v1::InspectResponse response;
  grpc::ClientContext context;
  SetDeadline(context, ctx.BoundedDeadline());
  grpc::Status status = (*connection)->stub().Inspect(&context, request, &response);
  if (!status.ok()) return ctx.RpcError(status, ctx.BoundedDeadline());
  return Print(ctx, response,
               [](const v1::InspectResponse& r) { return RenderInspect(r, Clock::now()); });
}

Result<int> RunStatus(Context& ctx) {
  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  v1::StatusResponse response;
  grpc::ClientContext context;
  SetDeadline(context, ctx.BoundedDeadline());
  grpc::Status status = (*connection)->stub().Status(&context, v1::StatusRequest(), &response);
  if (!status.ok()) return ctx.RpcError(status, ctx.BoundedDeadline());
  return Print(ctx, response,
               [](const v1::StatusResponse& r) { return RenderStatus(r, Clock::now()); });
}

Result<int> RunHealth(Context& ctx) {
  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  grpc::ClientContext context;
  SetDeadline(context, ctx.BoundedDeadline());
  if (!ctx.invocation.deployment.empty()) {
    v1::ListRequest request;
    request.set_deployment(ctx.invocation.deployment);
    v1::ListResponse response;
    grpc::Status status = (*connection)->stub().List(&context, request, &response);
    if (!status.ok()) return ctx.RpcError(status, ctx.BoundedDeadline());
    if (response.deployments_size() != 1) {
      return NotFoundError(fmt::format("deployment {} not found", ctx.invocation.deployment));
    }
    DeploymentHealth health = JudgeDeploymentHealth(response.deployments(0));
    ctx.io.Out(health.text + "\n");
    return health.healthy ? kExitOk : kExitFailure;
  }
  v1::HealthResponse response;
  grpc::Status status = (*connection)->stub().Health(&context, v1::HealthRequest(), &response);
  if (!status.ok()) return ctx.RpcError(status, ctx.BoundedDeadline());
  if (response.healthy()) {
    ctx.io.Out("healthy\n");
    return kExitOk;
  }
  ctx.io.Out(fmt::format("unhealthy: {}\n",
                         response.reason().empty() ? "no reason given" : response.reason()));
  return kExitFailure;
}

Result<int> RunRoutes(Context& ctx) {
  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  v1::ListRoutesResponse response;
  grpc::ClientContext context;
  SetDeadline(context, ctx.BoundedDeadline());
  grpc::Status status =
      (*connection)->stub().ListRoutes(&context, v1::ListRoutesRequest(), &response);
  if (!status.ok()) return ctx.RpcError(status, ctx.BoundedDeadline());
  return Print(ctx, response, [](const v1::ListRoutesResponse& r) {
    std::string text = RenderRoutesTable(r);
    std::string notes = RenderRoutesNotes(r);
    if (!notes.empty()) text += "\n" + notes;
    return text;
  });
}

Result<int> RunCerts(Context& ctx) {
  auto connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  v1::ListCertificatesResponse response;
  grpc::ClientContext context;
  SetDeadline(context, ctx.BoundedDeadline());
  grpc::Status status =
      (*connection)->stub().ListCertificates(&context, v1::ListCertificatesRequest(), &response);
  if (!status.ok()) return ctx.RpcError(status, ctx.BoundedDeadline());
  return Print(ctx, response, [](const v1::ListCertificatesResponse& r) {
    std::string text = RenderCertificatesTable(r, Clock::now());
    std::string notes = RenderCertificatesNotes(r);
    if (!notes.empty()) text += "\n" + notes;
    return text;
  });
}

Result<int> RunVersion(Context& ctx) {
  ctx.io.Out(fmt::format("client: {} (api zlayer.v1)\n", kVersion));
  // Without an agent the client's version is still an answer; the note says why the
  // agent's is missing ("agent:  not reachable at PATH (is the node running?)").
  auto note = [&](std::string message) {
    if (message.starts_with("agent ")) message.erase(0, 6);
    ctx.io.Out(fmt::format("agent:  {}\n", message));
    return kExitOk;
  };
  auto connection = ctx.Connect();
  if (!connection.ok()) return note(connection.status().message());
  v1::VersionResponse response;
  grpc::ClientContext context;
  SetDeadline(context, ctx.BoundedDeadline());
  grpc::Status status = (*connection)->stub().Version(&context, v1::VersionRequest(), &response);
  if (!status.ok()) return note(ctx.RpcError(status, ctx.BoundedDeadline()).message());
  ctx.io.Out(fmt::format("agent:  {} (api {})\n", response.version(),
                         response.api().empty() ? "unknown" : response.api()));
  return kExitOk;
}

}  // namespace zlayer::cli
