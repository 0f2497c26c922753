// The zlayer.v1.Agent gRPC service: a pure adapter between the API's
// messages and the node's application layer (agent/node/node.h).
//
// Every reaction validates its request, posts the work to the agent's event
// loop and finishes (or streams) from there; none blocks a gRPC thread.
// Errors become grpc::Status here, with zlayer's codes mapped one to one.
// Exec is adapted in exec_reactor.h.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include "common/status.h"
#include "zlayer/v1/agent.grpc.pb.h"

namespace zlayer::agent::node {
class Node;
}

namespace zlayer::api {

// Largest request or response the API accepts (a spec is at most 1 MiB).
inline constexpr int kMaxMessageBytes = 8 << 20;

grpc::Status ToGrpcStatus(const Status& status);

class AgentService : public zlayer::v1::Agent::CallbackService {
 public:
  explicit AgentService(agent::node::Node& agent) : agent_(agent) {}

  grpc::ServerWriteReactor<v1::DeployResponse>* Deploy(grpc::CallbackServerContext* context,
                                                       const v1::DeployRequest* request) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context,
                                   const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListRequest* request,
                                 v1::ListResponse* response) override;
  grpc::ServerUnaryReactor* Scale(grpc::CallbackServerContext* context,
                                  const v1::ScaleRequest* request,
                                  v1::ScaleResponse* response) override;
  grpc::ServerUnaryReactor* Inspect(grpc::CallbackServerContext* context,
                                    const v1::InspectRequest* request,
                                    v1::InspectResponse* response) override;
  grpc::ServerWriteReactor<v1::LogsResponse>* Logs(grpc::CallbackServerContext* context,
                                                   const v1::LogsRequest* request) override;
  grpc::ServerBidiReactor<v1::ExecRequest, v1::ExecResponse>* Exec(
      grpc::CallbackServerContext* context) override;
  grpc::ServerWriteReactor<v1::ImportImageResponse>* ImportImage(
      grpc::CallbackServerContext* context, const v1::ImportImageRequest* request) override;
  grpc::ServerWriteReactor<v1::PullImageResponse>* PullImage(
      grpc::CallbackServerContext* context, const v1::PullImageRequest* request) override;
  grpc::ServerUnaryReactor* ListRoutes(grpc::CallbackServerContext* context,
                                       const v1::ListRoutesRequest* request,
                                       v1::ListRoutesResponse* response) override;
  grpc::ServerUnaryReactor* ListCertificates(grpc::CallbackServerContext* context,
                                             const v1::ListCertificatesRequest* request,
                                             v1::ListCertificatesResponse* response) override;
  grpc::ServerUnaryReactor* ListImages(grpc::CallbackServerContext* context,
                                       const v1::ListImagesRequest* request,
                                       v1::ListImagesResponse* response) override;
  grpc::ServerUnaryReactor* RemoveImage(grpc::CallbackServerContext* context,
                                        const v1::RemoveImageRequest* request,
                                        v1::RemoveImageResponse* response) override;
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context,
                                   const v1::StatusRequest* request,
                                   v1::StatusResponse* response) override;
  grpc::ServerUnaryReactor* Health(grpc::CallbackServerContext* context,
                                   const v1::HealthRequest* request,
                                   v1::HealthResponse* response) override;
  grpc::ServerUnaryReactor* Version(grpc::CallbackServerContext* context,
                                    const v1::VersionRequest* request,
                                    v1::VersionResponse* response) override;

 private:
  agent::node::Node& agent_;
  // Reads log files for Logs calls, one at a time, off the agent's loop; the
  // loop only resolves the target and subscribes followers.
  boost::asio::thread_pool log_reads_{1};
};

}  // namespace zlayer::api
