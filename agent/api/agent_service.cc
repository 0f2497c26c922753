#include "agent/api/agent_service.h"

#include <google/protobuf/util/time_util.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>

#include "agent/agent.h"
#include "agent/api/exec_reactor.h"
#include "agent/api/stream_writer.h"
#include "agent/logs/log_hub.h"
#include "agent/logs/log_reader.h"
#include "agent/logs/paths.h"
#include "agent/spec/problem.h"
#include "common/version.h"

namespace zlayer::api {
namespace {

namespace asio = boost::asio;
using google::protobuf::util::TimeUtil;
using WallClock = std::chrono::system_clock;

google::protobuf::Timestamp ToProto(WallClock::time_point t) {
  return TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

WallClock::time_point FromProto(const google::protobuf::Timestamp& t) {
  return WallClock::time_point(
      std::chrono::duration_cast<WallClock::duration>(std::chrono::nanoseconds(
          TimeUtil::TimestampToNanoseconds(t))));
}

v1::Replica::State ReplicaState(const std::string& state) {
  if (state == "creating" || state == "starting") return v1::Replica::STATE_STARTING;
  if (state == "running") return v1::Replica::STATE_RUNNING;
  if (state == "backoff") return v1::Replica::STATE_BACKOFF;
  if (state == "exited") return v1::Replica::STATE_EXITED;
  if (state == "failed") return v1::Replica::STATE_FAILED;
  if (state == "completed") return v1::Replica::STATE_COMPLETED;
  if (state == "removing") return v1::Replica::STATE_STOPPING;
  if (state == "created") return v1::Replica::STATE_PENDING;
  return v1::Replica::STATE_UNKNOWN;
}

void FillExit(uint32_t status, const std::string& reason, v1::ExitStatus* out) {
  out->set_code(static_cast<int32_t>(status));
  if (status > 128 && status < 128 + 65) {
    int sig = static_cast<int>(status) - 128;
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev != nullptr) out->set_signal(std::string("SIG") + abbrev);
  }
  out->set_reason(!reason.empty() && reason == "OOMKilled" ? "OOMKilled"
                  : status == 0                            ? "Completed"
                                                           : "Error");
}

void FillReplica(const reconcile::ReplicaView& r, v1::Replica* out) {
  out->set_container_id(r.id);
  out->set_index(r.replica);
  out->set_state(ReplicaState(r.state));
  out->set_pid(static_cast<uint32_t>(r.pid));
  out->set_image(r.image);
  out->set_restart_count(r.restarts);
  if (r.exit_status) FillExit(*r.exit_status, r.reason, out->mutable_last_exit());
  if (r.next_restart && r.state == "backoff") {
    *out->mutable_next_restart_at() = ToProto(*r.next_restart);
  }
  if (r.started_at && r.state == "running") {
    *out->mutable_started_at() = ToProto(*r.started_at);
    *out->mutable_uptime() = TimeUtil::NanosecondsToDuration(
        std::chrono::duration_cast<std::chrono::nanoseconds>(WallClock::now() - *r.started_at)
            .count());
  }
  out->set_message(r.reason);
}

void FillDeployment(const reconcile::DeploymentView& d, v1::Deployment* out) {
  out->set_name(d.name);
  out->set_generation(d.generation);
  out->set_observed_generation(d.generation);
  bool failing = false;
  std::map<std::string, v1::Service*> services;
  for (const reconcile::ReplicaView& r : d.replicas) {
    v1::Service*& service = services[r.service];
    if (service == nullptr) {
      service = out->add_services();
      service->set_name(r.service);
      service->set_type(v1::Service::TYPE_SERVICE);
      service->set_image(r.image);
    }
    FillReplica(r, service->add_replicas());
    if (r.state == "running") service->set_ready_replicas(service->ready_replicas() + 1);
    failing = failing || r.state == "failed" || r.state == "backoff";
  }
  out->set_phase(d.converged ? v1::Deployment::PHASE_CONVERGED
                 : failing   ? v1::Deployment::PHASE_DEGRADED
                             : v1::Deployment::PHASE_PROGRESSING);
}

void FillImage(const agent::ImageInfo& image, v1::Image* out) {
  out->set_name(image.name);
  out->set_digest(image.digest);
  out->set_media_type(image.media_type);
  out->set_size(image.size);
  out->set_unpacked(image.unpacked);
}

v1::ServiceChange::Kind ChangeKind(agent::ServiceChange::Kind kind) {
  switch (kind) {
    case agent::ServiceChange::Kind::kAdd: return v1::ServiceChange::KIND_ADD;
    case agent::ServiceChange::Kind::kUpdate: return v1::ServiceChange::KIND_UPDATE;
    case agent::ServiceChange::Kind::kScale: return v1::ServiceChange::KIND_SCALE;
    case agent::ServiceChange::Kind::kUnchanged: return v1::ServiceChange::KIND_UNCHANGED;
    case agent::ServiceChange::Kind::kRemove: return v1::ServiceChange::KIND_REMOVE;
  }
  return v1::ServiceChange::KIND_UNSPECIFIED;
}

// Follows a deployment until it converges or a replica fails for good,
// sending a ReplicaProgress for every replica whose state changes.
struct DeployWatch : std::enable_shared_from_this<DeployWatch> {
  DeployWatch(agent::Agent& a, std::shared_ptr<StreamWriter<v1::DeployResponse>::Handle> h,
              std::string name, uint64_t generation)
      : agent(a), stream(std::move(h)), deployment(std::move(name)), generation(generation),
        timer(a.loop()), started(std::chrono::steady_clock::now()) {}

  void Poll() {
    if (!stream->active()) return;
    for (const auto& d : agent.Deployments()) {
      if (d.name != deployment) continue;
      std::string failure;
      for (const auto& r : d.replicas) {
        std::string key = r.state + "|" + std::to_string(r.pid) + "|" + r.reason;
        if (seen[r.id] != key) {
          seen[r.id] = key;
          v1::DeployResponse message;
          *message.mutable_time() = ToProto(WallClock::now());
          auto* progress = message.mutable_replica();
          progress->set_deployment(d.name);
          progress->set_service(r.service);
          FillReplica(r, progress->mutable_replica());
          stream->Push(std::move(message));
        }
        if (r.state == "failed") failure = "replica " + r.id + " failed: " + r.reason;
      }
      if (d.generation > generation) return Finish(v1::DeployFinished::OUTCOME_SUPERSEDED, "a newer deploy replaced it");
      if (d.converged && failure.empty()) return Finish(v1::DeployFinished::OUTCOME_CONVERGED, "");
      if (!failure.empty()) return Finish(v1::DeployFinished::OUTCOME_FAILED, failure);
      return Again();
    }
    Finish(v1::DeployFinished::OUTCOME_DELETED, "the deployment was deleted");
  }
  void Again() {
    timer.expires_after(std::chrono::milliseconds(200));
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->Poll();
    });
  }
  void Finish(v1::DeployFinished::Outcome outcome, const std::string& why) {
    v1::DeployResponse message;
    *message.mutable_time() = ToProto(WallClock::now());
    auto* finished = message.mutable_finished();
    finished->set_outcome(outcome);
    finished->set_message(why);
    *finished->mutable_elapsed() = TimeUtil::NanosecondsToDuration(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                             started)
            .count());
    stream->Push(std::move(message));
    stream->Finish(grpc::Status::OK);
  }

  agent::Agent& agent;
  std::shared_ptr<StreamWriter<v1::DeployResponse>::Handle> stream;
  std::string deployment;
  uint64_t generation;
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point started;
  std::map<std::string, std::string> seen;
};

// A Logs call that follows: its subscriptions live on the loop.
struct LogFollow {
  std::vector<agent::logs::LogHub::Subscription> subscriptions;
};

void AddEntry(const std::string& id, const agent::logs::LogRecord& record, v1::LogsResponse* out) {
  v1::LogEntry* entry = out->add_entries();
  entry->set_container_id(id);
  entry->set_stream(record.stream == agent::logs::Stream::kStdout ? v1::LOG_STREAM_STDOUT
                                                                  : v1::LOG_STREAM_STDERR);
  *entry->mutable_time() = ToProto(record.time);
  std::string text = record.text;
  bool partial = text.empty() || text.back() != '\n';
  if (!partial) text.pop_back();
  entry->set_line(std::move(text));
  entry->set_partial(partial);
}

}  // namespace

grpc::Status ToGrpcStatus(const zlayer::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(status.code())),
                      status.message());
}

grpc::ServerWriteReactor<v1::DeployResponse>* AgentService::Deploy(
    grpc::CallbackServerContext*, const v1::DeployRequest* request) {
  auto* writer = new StreamWriter<v1::DeployResponse>();
  auto stream = writer->handle();
  asio::post(agent_.loop(), [this, stream, request = *request] {
    agent_.Deploy(
        request.spec_yaml(), request.source_name(), request.dry_run(),
        [this, stream, wait = request.wait() && !request.dry_run()](
            Result<agent::DeployResult> result) {
          if (!result.ok()) return stream->Finish(ToGrpcStatus(result.status()));
          v1::DeployResponse message;
          *message.mutable_time() = ToProto(WallClock::now());
          if (!result->problems.empty()) {
            for (const spec::Problem& p : result->problems) {
              v1::SpecProblem* problem = message.mutable_rejected()->add_problems();
              problem->set_source_name(p.file);
              problem->set_line(static_cast<uint32_t>(p.line));
              problem->set_column(static_cast<uint32_t>(p.column));
              problem->set_path(p.path);
              problem->set_message(p.message);
            }
            stream->Push(std::move(message));
            return stream->Finish(ToGrpcStatus(spec::ProblemsToStatus(result->problems)));
          }
          v1::DeployAccepted* accepted = message.mutable_accepted();
          accepted->set_deployment(result->deployment);
          accepted->set_generation(result->generation);
          accepted->set_changed(result->changed);
          accepted->set_dry_run(result->dry_run);
          for (const agent::ServiceChange& c : result->changes) {
            v1::ServiceChange* change = accepted->add_changes();
            change->set_service(c.service);
            change->set_kind(ChangeKind(c.kind));
            change->set_replicas_before(c.replicas_before);
            change->set_replicas_after(c.replicas_after);
            if (c.kind == agent::ServiceChange::Kind::kUpdate) {
              // Until rolling updates land, replicas are replaced in place.
              change->set_strategy(v1::UPDATE_STRATEGY_STOP_FIRST);
              change->set_strategy_reason("replicas are replaced in place");
            }
          }
          stream->Push(std::move(message));
          if (!wait) return stream->Finish(grpc::Status::OK);
          std::make_shared<DeployWatch>(agent_, stream, result->deployment, result->generation)
              ->Poll();
        });
  });
  return writer;
}

grpc::ServerUnaryReactor* AgentService::Delete(grpc::CallbackServerContext* context,
                                               const v1::DeleteRequest* request,
                                               v1::DeleteResponse* response) {
  auto* reactor = context->DefaultReactor();
  asio::post(agent_.loop(), [this, reactor, response, name = request->deployment(),
                             wait = request->wait()] {
    agent_.Delete(name, wait, [reactor, response](Result<uint32_t> stopped) {
      if (!stopped.ok()) return reactor->Finish(ToGrpcStatus(stopped.status()));
      response->set_replicas_stopped(*stopped);
      reactor->Finish(grpc::Status::OK);
    });
  });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::List(grpc::CallbackServerContext* context,
                                             const v1::ListRequest* request,
                                             v1::ListResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (!request->service().empty() && request->deployment().empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "list: a service needs its deployment"));
    return reactor;
  }
  asio::post(agent_.loop(), [this, reactor, response, request = *request] {
    bool found = request.deployment().empty();
    for (const reconcile::DeploymentView& d : agent_.Deployments()) {
      if (!request.deployment().empty() && d.name != request.deployment()) continue;
      found = true;
      reconcile::DeploymentView view = d;
      if (!request.service().empty()) {
        std::erase_if(view.replicas,
                      [&](const auto& r) { return r.service != request.service(); });
      }
      FillDeployment(view, response->add_deployments());
    }
    if (!found) {
      return reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                          "deployment " + request.deployment() + " not found"));
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::LogsResponse>* AgentService::Logs(grpc::CallbackServerContext*,
                                                               const v1::LogsRequest* request) {
  auto* writer = new StreamWriter<v1::LogsResponse>();
  auto stream = writer->handle();
  auto follow = std::make_shared<LogFollow>();
  // Subscriptions are touched on the loop only.
  writer->set_on_cancel([this, follow] {
    asio::post(agent_.loop(), [follow] { follow->subscriptions.clear(); });
  });
  asio::post(agent_.loop(), [this, stream, follow, request = *request] {
    auto ids = agent_.ResolveTarget(request.target());
    if (!ids.ok()) return stream->Finish(ToGrpcStatus(ids.status()));
    // Subscribe and read the backlog in the same turn of the loop: no record
    // can slip in between (log_hub.h).
    if (request.follow()) {
      for (const std::string& id : *ids) {
        follow->subscriptions.push_back(agent_.log_hub().Subscribe(
            id, [stream, id](const agent::logs::LogRecord& record) {
              v1::LogsResponse message;
              AddEntry(id, record, &message);
              stream->Push(std::move(message));
            }));
      }
    }
    std::vector<std::pair<std::string, agent::logs::LogRecord>> backlog;
    for (const std::string& id : *ids) {
      auto paths = agent::logs::IoPathsFor(agent_.config(), id);
      if (!paths.ok()) continue;
      agent::logs::ReadOptions options;
      if (request.has_tail()) options.tail = request.tail();
      if (request.has_since()) options.since = FromProto(request.since());
      if (request.has_tail() && request.tail() == 0) continue;
      auto read = agent::logs::ReadLogs(paths->log_dir, id, options);
      if (!read.ok()) return stream->Finish(ToGrpcStatus(read.status()));
      for (auto& record : read->records) backlog.emplace_back(id, std::move(record));
    }
    std::stable_sort(backlog.begin(), backlog.end(),
                     [](const auto& a, const auto& b) { return a.second.time < b.second.time; });
    v1::LogsResponse batch;
    for (const auto& [id, record] : backlog) {
      AddEntry(id, record, &batch);
      if (batch.entries_size() >= 256) {
        stream->Push(std::move(batch));
        batch.Clear();
      }
    }
    if (batch.entries_size() > 0) stream->Push(std::move(batch));
    if (!request.follow()) stream->Finish(grpc::Status::OK);
  });
  return writer;
}

grpc::ServerBidiReactor<v1::ExecRequest, v1::ExecResponse>* AgentService::Exec(
    grpc::CallbackServerContext*) {
  return NewExecReactor(agent_);
}

grpc::ServerWriteReactor<v1::ImportImageResponse>* AgentService::ImportImage(
    grpc::CallbackServerContext*, const v1::ImportImageRequest* request) {
  auto* writer = new StreamWriter<v1::ImportImageResponse>();
  auto stream = writer->handle();
  if (request->path().empty() || request->path()[0] != '/') {
    stream->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "image import: the path must be absolute, got \"" +
                                    request->path() + "\""));
    return writer;
  }
  asio::post(agent_.loop(), [this, stream, request = *request] {
    agent_.ImportImage(
        request.path(), request.name(),
        [stream](const agent::ImportProgress& progress) {
          v1::ImportImageResponse message;
          v1::BlobProgress* blob = message.mutable_progress();
          blob->set_digest(progress.digest);
          blob->set_media_type(progress.media_type);
          blob->set_size(progress.size);
          blob->set_offset(progress.offset);
          blob->set_phase(static_cast<v1::BlobProgress::Phase>(progress.phase));
          stream->Push(std::move(message));
        },
        [stream](Result<std::vector<agent::ImageInfo>> images) {
          if (!images.ok()) return stream->Finish(ToGrpcStatus(images.status()));
          for (const agent::ImageInfo& image : *images) {
            v1::ImportImageResponse message;
            FillImage(image, message.mutable_imported());
            stream->Push(std::move(message));
          }
          stream->Finish(grpc::Status::OK);
        });
  });
  return writer;
}

grpc::ServerUnaryReactor* AgentService::ListImages(grpc::CallbackServerContext* context,
                                                   const v1::ListImagesRequest*,
                                                   v1::ListImagesResponse* response) {
  auto* reactor = context->DefaultReactor();
  asio::post(agent_.loop(), [this, reactor, response] {
    agent_.ListImages([reactor, response](Result<std::vector<agent::ImageInfo>> images) {
      if (!images.ok()) return reactor->Finish(ToGrpcStatus(images.status()));
      for (const agent::ImageInfo& image : *images) FillImage(image, response->add_images());
      reactor->Finish(grpc::Status::OK);
    });
  });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::RemoveImage(grpc::CallbackServerContext* context,
                                                    const v1::RemoveImageRequest* request,
                                                    v1::RemoveImageResponse* response) {
  auto* reactor = context->DefaultReactor();
  asio::post(agent_.loop(), [this, reactor, response, request = *request] {
    agent_.RemoveImage(request.reference(), request.force(),
                       [reactor, response, name = request.reference()](zlayer::Status s) {
                         if (!s.ok()) return reactor->Finish(ToGrpcStatus(s));
                         response->mutable_image()->set_name(name);
                         reactor->Finish(grpc::Status::OK);
                       });
  });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::Status(grpc::CallbackServerContext* context,
                                               const v1::StatusRequest*,
                                               v1::StatusResponse* response) {
  auto* reactor = context->DefaultReactor();
  asio::post(agent_.loop(), [this, reactor, response] {
    agent::NodeStatus s = agent_.CurrentStatus();
    v1::ContainerdStatus* c = response->mutable_containerd();
    c->set_address(agent_.config().containerd_socket);
    c->set_reachable(s.containerd_reachable);
    c->set_version(s.containerd_version);
    c->set_error(s.containerd_error);
    response->set_namespace_(s.namespace_name);
    response->set_snapshotter(s.snapshotter);
    response->set_runtime(s.runtime);
    response->set_data_dir(agent_.config().data_dir);
    v1::NodeCounts* counts = response->mutable_counts();
    counts->set_deployments(static_cast<uint32_t>(s.deployments));
    counts->set_replicas_desired(static_cast<uint32_t>(s.replicas));
    counts->set_replicas_running(static_cast<uint32_t>(s.running));
    *response->mutable_agent_started_at() = ToProto(s.started_at);
    *response->mutable_agent_uptime() = TimeUtil::NanosecondsToDuration(
        std::chrono::duration_cast<std::chrono::nanoseconds>(WallClock::now() - s.started_at)
            .count());
    for (const reconcile::DeploymentView& d : agent_.Deployments()) {
      v1::Deployment full;
      FillDeployment(d, &full);
      v1::DeploymentSummary* summary = response->add_deployments();
      summary->set_name(d.name);
      summary->set_generation(d.generation);
      summary->set_phase(full.phase());
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::Health(grpc::CallbackServerContext* context,
                                               const v1::HealthRequest*,
                                               v1::HealthResponse* response) {
  auto* reactor = context->DefaultReactor();
  // Answered from the loop: that the loop answers at all is "loop live".
  asio::post(agent_.loop(), [this, reactor, response] {
    agent::HealthInfo health = agent_.CurrentHealth();
    agent::NodeStatus status = agent_.CurrentStatus();
    response->set_healthy(health.healthy);
    response->set_reason(health.reason);
    response->set_containerd_reachable(status.containerd_reachable);
    response->set_loop_live(true);
    response->set_deployments_ok(health.healthy || !status.containerd_reachable);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::Version(grpc::CallbackServerContext* context,
                                                const v1::VersionRequest*,
                                                v1::VersionResponse* response) {
  response->set_version(kVersion);
  response->set_api("zlayer.v1");
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace zlayer::api
