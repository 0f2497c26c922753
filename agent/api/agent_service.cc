#include "agent/api/agent_service.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>

#include "agent/api/exec_reactor.h"
#include "agent/api/stream_writer.h"
#include "agent/logs/log_hub.h"
#include "agent/logs/log_reader.h"
#include "agent/logs/paths.h"
#include "agent/node/node.h"
#include "agent/reconcile/deploy_wait.h"
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
  return WallClock::time_point(std::chrono::duration_cast<WallClock::duration>(
      std::chrono::nanoseconds(TimeUtil::TimestampToNanoseconds(t))));
}

v1::Replica::State ToProto(reconcile::ReplicaState state) {
  using State = reconcile::ReplicaState;
  switch (state) {
    case State::kCreating:
    case State::kStarting:
      return v1::Replica::STATE_STARTING;
    case State::kRunning:
      return v1::Replica::STATE_RUNNING;
    case State::kBackoff:
      return v1::Replica::STATE_BACKOFF;
    case State::kExited:
      return v1::Replica::STATE_EXITED;
    case State::kFailed:
      return v1::Replica::STATE_FAILED;
    case State::kCompleted:
      return v1::Replica::STATE_COMPLETED;
    case State::kRemoving:
    case State::kStopping:
      return v1::Replica::STATE_STOPPING;
    case State::kCreated:
      return v1::Replica::STATE_PENDING;
  }
  return v1::Replica::STATE_UNKNOWN;
}

v1::Replica::Health ToProto(std::optional<reconcile::ReplicaHealth> health) {
  if (!health) return v1::Replica::HEALTH_NONE;
  switch (*health) {
    case reconcile::ReplicaHealth::kStarting:
      return v1::Replica::HEALTH_STARTING;
    case reconcile::ReplicaHealth::kHealthy:
      return v1::Replica::HEALTH_HEALTHY;
    case reconcile::ReplicaHealth::kUnhealthy:
      return v1::Replica::HEALTH_UNHEALTHY;
  }
  return v1::Replica::HEALTH_NONE;
}

v1::UpdateStrategy ToProto(reconcile::UpdateStrategy strategy) {
  switch (strategy) {
    case reconcile::UpdateStrategy::kRolling:
      return v1::UPDATE_STRATEGY_ROLLING;
    case reconcile::UpdateStrategy::kStopFirst:
      return v1::UPDATE_STRATEGY_STOP_FIRST;
  }
  return v1::UPDATE_STRATEGY_ROLLING;
}

v1::Rollout::State ToProto(reconcile::RolloutState state) {
  switch (state) {
    case reconcile::RolloutState::kInProgress:
      return v1::Rollout::STATE_IN_PROGRESS;
    case reconcile::RolloutState::kComplete:
      return v1::Rollout::STATE_COMPLETE;
    case reconcile::RolloutState::kStopped:
      return v1::Rollout::STATE_STOPPED;
  }
  return v1::Rollout::STATE_STOPPED;
}

void FillExit(uint32_t status, const std::string& reason, v1::ExitStatus* out) {
  out->set_code(static_cast<int32_t>(status));
  if (status > 128 && status < 128 + 65) {
    int sig = static_cast<int>(status) - 128;
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev != nullptr) out->set_signal(std::string("SIG") + abbrev);
  }
  out->set_reason(reason == "OOMKilled" || reason == "Unhealthy" ? reason
                  : status == 0                                  ? "Completed"
                                                                 : "Error");
}

void FillReplica(const reconcile::ReplicaView& r, v1::Replica* out) {
  out->set_container_id(r.id);
  out->set_index(r.replica);
  out->set_state(ToProto(r.state));
  out->set_pid(static_cast<uint32_t>(r.pid));
  out->set_address(r.address);
  out->set_ready(r.ready);
  out->set_image(r.image);
  out->set_restart_count(r.restarts);
  out->set_health(ToProto(r.health));
  out->set_generation(r.generation);
  if (r.exit_status) {
    std::string reason = r.reason;
    if (!r.restart_history.empty() && r.restart_history.back().reason == "Unhealthy" &&
        r.restart_history.back().exit_status == *r.exit_status) {
      reason = "Unhealthy";
    }
    FillExit(*r.exit_status, reason, out->mutable_last_exit());
  }
  if (r.next_restart && r.state == reconcile::ReplicaState::kBackoff) {
    *out->mutable_next_restart_at() = ToProto(*r.next_restart);
  }
  if (r.started_at && r.state == reconcile::ReplicaState::kRunning) {
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
  bool rollout_stopped = false;
  std::string message = d.failure;
  std::map<std::string, v1::Service*> services;
  for (const reconcile::ServiceView& sv : d.services) {
    v1::Service* service = out->add_services();
    services[sv.name] = service;
    service->set_name(sv.name);
    service->set_type(sv.job ? v1::Service::TYPE_JOB : v1::Service::TYPE_SERVICE);
    service->set_desired_replicas(sv.desired_replicas);
    service->set_ready_replicas(sv.ready_replicas);
    if (sv.has_rollout) {
      v1::Rollout* rollout = service->mutable_rollout();
      rollout->set_strategy(ToProto(sv.strategy));
      rollout->set_generation(sv.rollout_generation);
      rollout->set_updated(sv.updated);
      rollout->set_total(sv.desired_replicas);
      rollout->set_state(ToProto(sv.rollout_state));
      rollout->set_message(sv.rollout_message);
      rollout_stopped = rollout_stopped || sv.rollout_state == reconcile::RolloutState::kStopped;
    }
    failing = failing || sv.failed;
    if (message.empty() && !sv.message.empty()) message = sv.name + ": " + sv.message;
  }
  for (const reconcile::ReplicaView& r : d.replicas) {
    v1::Service*& service = services[r.service];
    if (service == nullptr) {  // a service no longer in the spec, being removed
      service = out->add_services();
      service->set_name(r.service);
      service->set_type(v1::Service::TYPE_SERVICE);
    }
    if (service->image().empty() || r.current) service->set_image(r.image);
    FillReplica(r, service->add_replicas());
    const bool failed = r.state == reconcile::ReplicaState::kFailed ||
                        r.state == reconcile::ReplicaState::kBackoff ||
                        r.health == reconcile::ReplicaHealth::kUnhealthy;
    failing = failing || failed;
    if (message.empty() && failed) {
      message = fmt::format("replica {} {}{}", r.id, reconcile::ReplicaStateName(r.state),
                            r.reason.empty() ? "" : ": " + r.reason);
    }
  }
  out->set_phase(rollout_stopped ? v1::Deployment::PHASE_ROLLOUT_STOPPED
                 : d.converged   ? v1::Deployment::PHASE_CONVERGED
                 : failing       ? v1::Deployment::PHASE_DEGRADED
                                 : v1::Deployment::PHASE_PROGRESSING);
  if (!d.converged || rollout_stopped) out->set_message(message);
}

google::protobuf::Duration ToProtoDuration(std::chrono::nanoseconds d) {
  return TimeUtil::NanosecondsToDuration(d.count());
}

// The container as containerd holds it: its OCI spec is the resolved config.
void FillContainerConfig(const agent::node::ReplicaDetail& d, v1::ContainerConfig* out) {
  out->set_stop_signal(d.stop_signal);
  *out->mutable_stop_grace_period() = ToProtoDuration(d.stop_grace_period);
  out->set_log_path(d.log_path);
  if (!d.container) return;
  const containerd::ContainerRecord& c = *d.container;
  out->set_image(c.image);
  out->set_runtime(c.runtime);
  out->set_snapshotter(c.snapshotter);
  for (const auto& [key, value] : c.labels) (*out->mutable_labels())[key] = value;
  out->set_oci_spec_json(c.spec_json);
  auto spec = nlohmann::json::parse(c.spec_json, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded() || !spec.is_object()) return;
  const auto& process = spec.value("process", nlohmann::json::object());
  for (const auto& arg : process.value("args", nlohmann::json::array())) {
    if (arg.is_string()) out->add_args(arg.get<std::string>());
  }
  for (const auto& env : process.value("env", nlohmann::json::array())) {
    if (env.is_string()) out->add_env(env.get<std::string>());
  }
  out->set_working_dir(process.value("cwd", ""));
  if (process.contains("user") && process["user"].is_object()) {
    out->set_user(
        fmt::format("{}:{}", process["user"].value("uid", 0u), process["user"].value("gid", 0u)));
  }
  out->set_hostname(spec.value("hostname", ""));
  for (const auto& m : spec.value("mounts", nlohmann::json::array())) {
    if (!m.is_object()) continue;
    v1::Mount* mount = out->add_mounts();
    std::string type = m.value("type", "");
    bool read_only = false;
    for (const auto& option : m.value("options", nlohmann::json::array())) {
      if (option.is_string() && option.get<std::string>() == "ro") read_only = true;
      if (option.is_string() && option.get<std::string>() == "rbind") type = "bind";
    }
    mount->set_type(type);
    mount->set_source(m.value("source", ""));
    mount->set_target(m.value("destination", ""));
    mount->set_read_only(read_only);
  }
  const auto linux = spec.value("linux", nlohmann::json::object());
  const auto resources = linux.value("resources", nlohmann::json::object());
  const auto cpu = resources.value("cpu", nlohmann::json::object());
  if (cpu.contains("quota") && cpu.contains("period") && cpu["period"].is_number() &&
      cpu["quota"].is_number() && cpu["period"].get<double>() > 0 &&
      cpu["quota"].get<double>() > 0) {
    out->set_cpu(cpu["quota"].get<double>() / cpu["period"].get<double>());
  }
  const auto memory = resources.value("memory", nlohmann::json::object());
  if (memory.contains("limit") && memory["limit"].is_number())
    out->set_memory_bytes(memory["limit"].get<int64_t>());
  const auto pids = resources.value("pids", nlohmann::json::object());
  if (pids.contains("limit") && pids["limit"].is_number())
    out->set_pids_limit(pids["limit"].get<int64_t>());
}

void FillDetail(const agent::node::ReplicaDetail& d, v1::ReplicaDetail* out) {
  out->set_deployment(d.replica.deployment);
  out->set_service(d.replica.service);
  FillReplica(d.replica, out->mutable_replica());
  FillContainerConfig(d, out->mutable_config());
  if (d.container) out->mutable_replica()->set_image(d.container->image);
  for (const reconcile::HealthCheckRecord& h : d.health_history) {
    v1::HealthCheckResult* result = out->add_health_history();
    *result->mutable_started_at() = ToProto(h.started_at);
    *result->mutable_duration() = ToProtoDuration(h.duration);
    result->set_ok(h.ok);
    result->set_code(h.code);
    result->set_output(h.output);
    result->set_truncated(h.truncated);
  }
  for (const reconcile::RestartView& r : d.replica.restart_history) {
    v1::RestartRecord* record = out->add_restart_history();
    if (r.restarted_at) *record->mutable_restarted_at() = ToProto(*r.restarted_at);
    FillExit(r.exit_status, r.reason, record->mutable_exit());
    *record->mutable_exit()->mutable_exited_at() = ToProto(r.exited_at);
    record->set_cause(r.cause);
    *record->mutable_backoff() = ToProtoDuration(r.backoff);
  }
}

void FillImage(const agent::node::ImageInfo& image, v1::Image* out) {
  out->set_name(image.name);
  out->set_digest(image.digest);
  out->set_media_type(image.media_type);
  out->set_size(image.size);
  out->set_unpacked(image.unpacked);
}

v1::ServiceChange::Kind ChangeKind(agent::node::ServiceChange::Kind kind) {
  switch (kind) {
    case agent::node::ServiceChange::Kind::kAdd:
      return v1::ServiceChange::KIND_ADD;
    case agent::node::ServiceChange::Kind::kUpdate:
      return v1::ServiceChange::KIND_UPDATE;
    case agent::node::ServiceChange::Kind::kScale:
      return v1::ServiceChange::KIND_SCALE;
    case agent::node::ServiceChange::Kind::kUnchanged:
      return v1::ServiceChange::KIND_UNCHANGED;
    case agent::node::ServiceChange::Kind::kRemove:
      return v1::ServiceChange::KIND_REMOVE;
  }
  return v1::ServiceChange::KIND_UNSPECIFIED;
}

// Follows a deployment until reconcile::JudgeDeployWait gives a verdict, sending a
// ReplicaProgress for every replica whose state changes. Woken by the reconciler after
// each plan, and every second (dependency wait times, the progress deadline).
struct DeployWatch : std::enable_shared_from_this<DeployWatch> {
  DeployWatch(agent::node::Node& a, std::shared_ptr<StreamWriter<v1::DeployResponse>::Handle> h,
              std::string name, uint64_t generation, reconcile::DeployWaitLimits limits)
      : agent(a),
        stream(std::move(h)),
        deployment(std::move(name)),
        generation(generation),
        limits(limits),
        timer(a.loop()),
        started(std::chrono::steady_clock::now()),
        memory{started, {}, {}} {}

  void Start() {
    std::weak_ptr<DeployWatch> weak = shared_from_this();
    listener = agent.WatchDeployments([weak] {
      auto self = weak.lock();
      if (!self || self->poll_posted) return;
      self->poll_posted = true;
      asio::post(self->agent.loop(), [self] {
        self->poll_posted = false;
        if (!self->finished) self->Poll();
      });
    });
    Poll();
  }

  void Poll() {
    if (!stream->active()) return Stop();
    std::optional<reconcile::DeploymentView> view;
    for (auto& d : agent.Deployments()) {
      if (d.name == deployment) view = std::move(d);
    }
    if (view) SendProgress(*view);
    reconcile::DeployWaitVerdict verdict =
        reconcile::JudgeDeployWait(view ? &*view : nullptr, generation, memory,
                                   std::chrono::steady_clock::now(), WallClock::now(), limits);
    switch (verdict.outcome) {
      case reconcile::DeployWaitOutcome::kWaiting:
        return Again(verdict.recheck_in.value_or(std::chrono::seconds(1)));
      case reconcile::DeployWaitOutcome::kConverged:
        return Finish(v1::DeployFinished::OUTCOME_CONVERGED, "");
      case reconcile::DeployWaitOutcome::kFailed:
        return Finish(v1::DeployFinished::OUTCOME_FAILED, verdict.message);
      case reconcile::DeployWaitOutcome::kSuperseded:
        return Finish(v1::DeployFinished::OUTCOME_SUPERSEDED, verdict.message);
      case reconcile::DeployWaitOutcome::kDeleted:
        return Finish(v1::DeployFinished::OUTCOME_DELETED, verdict.message);
    }
  }

  // A message per replica, rollout and service step that changed since the last look.
  void SendProgress(const reconcile::DeploymentView& d) {
    for (const auto& r : d.replicas) {
      std::string key =
          fmt::format("{}|{}|{}|{}", reconcile::ReplicaStateName(r.state), r.pid, r.reason,
                      r.health ? reconcile::ReplicaHealthName(*r.health) : "");
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
    }
    for (const auto& sv : d.services) {
      if (sv.has_rollout && sv.rollout_state != reconcile::RolloutState::kComplete) {
        std::string key =
            fmt::format("{}|{}", reconcile::RolloutStateName(sv.rollout_state), sv.updated);
        if (seen["rollout/" + sv.name] != key) {
          seen["rollout/" + sv.name] = key;
          v1::DeployResponse message;
          *message.mutable_time() = ToProto(WallClock::now());
          auto* progress = message.mutable_service();
          progress->set_deployment(d.name);
          progress->set_service(sv.name);
          progress->set_message(fmt::format(
              "{} update: {} of {} replica(s) updated{}",
              reconcile::UpdateStrategyName(sv.strategy), sv.updated, sv.desired_replicas,
              sv.rollout_message.empty() ? "" : "; " + sv.rollout_message));
          stream->Push(std::move(message));
        }
      }
      if (!sv.message.empty() && seen["deps/" + sv.name] != sv.message.substr(0, 12)) {
        seen["deps/" + sv.name] = sv.message.substr(0, 12);
        v1::DeployResponse message;
        *message.mutable_time() = ToProto(WallClock::now());
        auto* progress = message.mutable_service();
        progress->set_deployment(d.name);
        progress->set_service(sv.name);
        progress->set_message(sv.message);
        stream->Push(std::move(message));
      }
    }
  }
  void Stop() {
    finished = true;
    timer.cancel();
    if (listener != 0) agent.UnwatchDeployments(listener);
    listener = 0;
  }
  void Again(std::chrono::nanoseconds after) {
    timer.expires_after(std::min<std::chrono::nanoseconds>(after, std::chrono::seconds(1)));
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->Poll();
    });
  }
  void Finish(v1::DeployFinished::Outcome outcome, const std::string& why) {
    Stop();
    v1::DeployResponse message;
    *message.mutable_time() = ToProto(WallClock::now());
    auto* finished = message.mutable_finished();
    finished->set_outcome(outcome);
    finished->set_message(why);
    *finished->mutable_elapsed() =
        TimeUtil::NanosecondsToDuration(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            std::chrono::steady_clock::now() - started)
                                            .count());
    stream->Push(std::move(message));
    stream->Finish(grpc::Status::OK);
  }

  agent::node::Node& agent;
  std::shared_ptr<StreamWriter<v1::DeployResponse>::Handle> stream;
  std::string deployment;
  uint64_t generation;
  reconcile::DeployWaitLimits limits;
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point started;
  reconcile::DeployWaitMemory memory;
  std::map<std::string, std::string> seen;
  uint64_t listener = 0;
  bool poll_posted = false;
  bool finished = false;
};

// A Logs call that follows. Lives on the loop: its subscriptions, and the
// records the hub brings while the backlog is still being read off the loop
// (held, one message per batch, and sent right after the backlog).
struct LogFollow {
  std::vector<agent::logs::LogHub::Subscription> subscriptions;
  bool backlog_sent = false;
  std::vector<v1::LogsResponse> held;
};

// One container's part of a Logs call, read on the file-reading thread.
struct LogSource {
  std::string id;
  std::string log_dir;
  agent::logs::ReadOptions options;
};

void AddEntry(const std::string& id, const agent::logs::RecordView& record, v1::LogsResponse* out) {
  v1::LogEntry* entry = out->add_entries();
  entry->set_container_id(id);
  entry->set_stream(record.stream == agent::logs::Stream::kStdout ? v1::LOG_STREAM_STDOUT
                                                                  : v1::LOG_STREAM_STDERR);
  *entry->mutable_time() = ToProto(record.time);
  std::string_view text = record.text;
  bool partial = text.empty() || text.back() != '\n';
  if (!partial) text.remove_suffix(1);
  entry->set_line(std::string(text));
  entry->set_partial(partial);
}

void AddEntry(const std::string& id, const agent::logs::LogRecord& record, v1::LogsResponse* out) {
  AddEntry(id, agent::logs::RecordView{record.stream, record.time, record.text}, out);
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
        [this, stream, wait = request.wait() && !request.dry_run(),
         deadline = request.progress_deadline()](Result<agent::node::DeployResult> result) {
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
          for (const agent::node::ServiceChange& c : result->changes) {
            v1::ServiceChange* change = accepted->add_changes();
            change->set_service(c.service);
            change->set_kind(ChangeKind(c.kind));
            change->set_replicas_before(c.replicas_before);
            change->set_replicas_after(c.replicas_after);
            if (c.kind == agent::node::ServiceChange::Kind::kUpdate) {
              change->set_strategy(ToProto(c.strategy.strategy));
              change->set_strategy_reason(c.strategy.reason);
            }
          }
          stream->Push(std::move(message));
          if (!wait) return stream->Finish(grpc::Status::OK);
          reconcile::DeployWaitLimits limits;
          if (deadline.seconds() > 0 || deadline.nanos() > 0) {
            limits.progress_deadline =
                std::chrono::nanoseconds(TimeUtil::DurationToNanoseconds(deadline));
          }
          std::make_shared<DeployWatch>(agent_, stream, result->deployment, result->generation,
                                        limits)
              ->Start();
        });
  });
  return writer;
}

grpc::ServerUnaryReactor* AgentService::Delete(grpc::CallbackServerContext* context,
                                               const v1::DeleteRequest* request,
                                               v1::DeleteResponse* response) {
  auto* reactor = context->DefaultReactor();
  asio::post(agent_.loop(),
             [this, reactor, response, name = request->deployment(), wait = request->wait()] {
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
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "list: a service needs its deployment"));
    return reactor;
  }
  asio::post(agent_.loop(), [this, reactor, response, request = *request] {
    bool found = request.deployment().empty();
    for (const reconcile::DeploymentView& d : agent_.Deployments()) {
      if (!request.deployment().empty() && d.name != request.deployment()) continue;
      found = true;
      reconcile::DeploymentView view = d;
      if (!request.service().empty()) {
        std::erase_if(view.replicas, [&](const auto& r) { return r.service != request.service(); });
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

grpc::ServerUnaryReactor* AgentService::Scale(grpc::CallbackServerContext* context,
                                              const v1::ScaleRequest* request,
                                              v1::ScaleResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (request->deployment().empty() || request->service().empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "scale: name the service as DEPLOYMENT/SERVICE"));
    return reactor;
  }
  asio::post(agent_.loop(), [this, reactor, response, request = *request] {
    agent_.Scale(request.deployment(), request.service(), request.replicas(),
                 [reactor, response](Result<agent::node::ScaleResult> scaled) {
                   if (!scaled.ok()) return reactor->Finish(ToGrpcStatus(scaled.status()));
                   response->set_generation(scaled->generation);
                   response->set_previous_replicas(scaled->previous_replicas);
                   reactor->Finish(grpc::Status::OK);
                 });
  });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::Inspect(grpc::CallbackServerContext* context,
                                                const v1::InspectRequest* request,
                                                v1::InspectResponse* response) {
  auto* reactor = context->DefaultReactor();
  asio::post(agent_.loop(), [this, reactor, response, target = request->target()] {
    agent_.Inspect(target,
                   [reactor, response](Result<std::vector<agent::node::ReplicaDetail>> details) {
                     if (!details.ok()) return reactor->Finish(ToGrpcStatus(details.status()));
                     for (const agent::node::ReplicaDetail& d : *details)
                       FillDetail(d, response->add_replicas());
                     reactor->Finish(grpc::Status::OK);
                   });
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::LogsResponse>* AgentService::Logs(grpc::CallbackServerContext*,
                                                               const v1::LogsRequest* request) {
  auto* writer = new StreamWriter<v1::LogsResponse>();
  auto stream = writer->handle();
  auto follow = std::make_shared<LogFollow>();
  // Subscriptions are touched on the loop only.
  writer->set_on_cancel(
      [this, follow] { asio::post(agent_.loop(), [follow] { follow->subscriptions.clear(); }); });
  asio::post(agent_.loop(), [this, stream, follow, request = *request] {
    auto ids = agent_.ResolveTarget(request.target());
    if (!ids.ok()) return stream->Finish(ToGrpcStatus(ids.status()));
    std::vector<LogSource> sources;
    for (const std::string& id : *ids) {
      auto paths = agent::logs::IoPathsFor(agent_.config(), id);
      if (!paths.ok()) continue;
      LogSource source{id, paths->log_dir, {}};
      if (request.has_tail()) source.options.tail = request.tail();
      if (request.has_since()) source.options.since = FromProto(request.since());
      if (request.follow()) {
        // Records are appended and published on this loop, so the file's end
        // now splits them exactly: the backlog read stops there, the hub
        // brings the rest. No gap, no duplicate (log_reader.h).
        auto end = agent::logs::CurrentLogEnd(paths->log_dir, id);
        if (!end.ok()) {
          follow->subscriptions.clear();
          return stream->Finish(ToGrpcStatus(end.status()));
        }
        source.options.until = *end;
        follow->subscriptions.push_back(
            agent_.log_hub().Subscribe(id, [stream, id, weak = std::weak_ptr<LogFollow>(follow)](
                                               std::span<const agent::logs::RecordView> records) {
              auto follow = weak.lock();
              if (!follow) return;
              v1::LogsResponse message;
              for (const auto& record : records) AddEntry(id, record, &message);
              if (follow->backlog_sent) {
                stream->Push(std::move(message));
              } else {
                follow->held.push_back(std::move(message));
              }
            }));
      }
      if (request.has_tail() && request.tail() == 0) continue;
      sources.push_back(std::move(source));
    }
    // Reading and parsing tens of MB would stall the loop for seconds: the
    // backlog is read on the file-reading thread and streamed from there.
    asio::post(log_reads_, [stream, follow, sources = std::move(sources),
                            following = request.follow(), &loop = agent_.loop()] {
      std::vector<std::pair<std::string, agent::logs::LogRecord>> backlog;
      for (const LogSource& source : sources) {
        auto read = agent::logs::ReadLogs(source.log_dir, source.id, source.options);
        if (!read.ok()) {
          asio::post(loop, [follow] { follow->subscriptions.clear(); });
          return stream->Finish(ToGrpcStatus(read.status()));
        }
        for (auto& record : read->records) backlog.emplace_back(source.id, std::move(record));
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
      if (!following) return stream->Finish(grpc::Status::OK);
      asio::post(loop, [stream, follow] {
        for (v1::LogsResponse& message : follow->held) stream->Push(std::move(message));
        follow->held.clear();
        follow->backlog_sent = true;
      });
    });
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
    stream->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     "image import: the path must be absolute, got \"" + request->path() + "\""));
    return writer;
  }
  asio::post(agent_.loop(), [this, stream, request = *request] {
    agent_.ImportImage(
        request.path(), request.name(),
        [stream](const agent::node::ImportProgress& progress) {
          v1::ImportImageResponse message;
          v1::BlobProgress* blob = message.mutable_progress();
          blob->set_digest(progress.digest);
          blob->set_media_type(progress.media_type);
          blob->set_size(progress.size);
          blob->set_offset(progress.offset);
          blob->set_phase(static_cast<v1::BlobProgress::Phase>(progress.phase));
          stream->Push(std::move(message));
        },
        [stream](Result<std::vector<agent::node::ImageInfo>> images) {
          if (!images.ok()) return stream->Finish(ToGrpcStatus(images.status()));
          for (const agent::node::ImageInfo& image : *images) {
            v1::ImportImageResponse message;
            FillImage(image, message.mutable_imported());
            stream->Push(std::move(message));
          }
          stream->Finish(grpc::Status::OK);
        });
  });
  return writer;
}

grpc::ServerWriteReactor<v1::PullImageResponse>* AgentService::PullImage(
    grpc::CallbackServerContext*, const v1::PullImageRequest* request) {
  auto* writer = new StreamWriter<v1::PullImageResponse>();
  auto stream = writer->handle();
  if (request->reference().empty()) {
    stream->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "pull: the image reference must not be empty"));
    return writer;
  }
  auto fill_blob = [](const agent::node::ImportProgress& progress, v1::BlobProgress* blob) {
    blob->set_digest(progress.digest);
    blob->set_media_type(progress.media_type);
    blob->set_size(progress.size);
    blob->set_offset(progress.offset);
    blob->set_phase(static_cast<v1::BlobProgress::Phase>(progress.phase));
  };
  asio::post(agent_.loop(), [this, stream, fill_blob, request = *request] {
    agent_.PullImage(
        request.reference(), request.platform(),
        [stream, fill_blob](const agent::node::PullResolvedInfo& info) {
          v1::PullImageResponse message;
          v1::PullResolved* resolved = message.mutable_resolved();
          resolved->set_name(info.name);
          resolved->set_digest(info.digest);
          resolved->set_platform(info.platform);
          for (const auto& blob : info.blobs) fill_blob(blob, resolved->add_blobs());
          stream->Push(std::move(message));
        },
        [stream, fill_blob](const agent::node::ImportProgress& progress) {
          v1::PullImageResponse message;
          fill_blob(progress, message.mutable_progress());
          stream->Push(std::move(message));
        },
        [stream](Result<agent::node::ImageInfo> image) {
          if (!image.ok()) return stream->Finish(ToGrpcStatus(image.status()));
          v1::PullImageResponse message;
          FillImage(*image, message.mutable_pulled());
          stream->Push(std::move(message));
          stream->Finish(grpc::Status::OK);
        });
  });
  return writer;
}

grpc::ServerUnaryReactor* AgentService::ListRoutes(grpc::CallbackServerContext* context,
                                                   const v1::ListRoutesRequest*,
                                                   v1::ListRoutesResponse* response) {
  auto* reactor = context->DefaultReactor();
  asio::post(agent_.loop(), [this, reactor, response] {
    for (const agent::node::ListenerView& l : agent_.Routes()) {
      v1::Listener* listener = response->add_listeners();
      listener->set_port(l.port);
      listener->set_kind(l.kind);
      for (const agent::node::RouteView& r : l.routes) {
        v1::Route* route = listener->add_routes();
        route->set_host(r.host);
        route->set_path(r.path);
        route->set_deployment(r.deployment);
        route->set_service(r.service);
        route->set_endpoint(r.endpoint);
        route->set_target_port(r.target_port);
        route->set_redirect_to_port(r.redirect_to_port);
        route->set_certificate(r.certificate);
        route->set_certificate_note(r.certificate_note);
        for (const reconcile::ReplicaView& replica : r.replicas) {
          v1::RouteReplica* out = route->add_replicas();
          out->set_container_id(replica.id);
          out->set_address(replica.address);
          out->set_state(ToProto(replica.state));
          out->set_health(ToProto(replica.health));
          out->set_in_rotation(r.in_rotation.count(replica.id) > 0);
        }
      }
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::ListCertificates(grpc::CallbackServerContext* context,
                                                         const v1::ListCertificatesRequest*,
                                                         v1::ListCertificatesResponse* response) {
  auto* reactor = context->DefaultReactor();
  asio::post(agent_.loop(), [this, reactor, response] {
    for (const agent::node::CertificateView& c : agent_.Certificates()) {
      v1::Certificate* out = response->add_certificates();
      out->set_host(c.host);
      out->set_source(c.source);
      // The epoch: the expiry is not known (unset, as the conventions say).
      if (c.not_after != WallClock::time_point()) *out->mutable_not_after() = ToProto(c.not_after);
      out->set_note(c.note);
      if (c.acme.has_value()) {
        v1::AcmeState* acme = out->mutable_acme();
        acme->set_in_progress(c.acme->in_progress);
        acme->set_refused(c.acme->refused);
        acme->set_last_error(c.acme->last_error);
        if (c.acme->next_attempt.has_value()) {
          *acme->mutable_next_attempt() = ToProto(*c.acme->next_attempt);
        }
      }
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::ListImages(grpc::CallbackServerContext* context,
                                                   const v1::ListImagesRequest*,
                                                   v1::ListImagesResponse* response) {
  auto* reactor = context->DefaultReactor();
  asio::post(agent_.loop(), [this, reactor, response] {
    agent_.ListImages([reactor, response](Result<std::vector<agent::node::ImageInfo>> images) {
      if (!images.ok()) return reactor->Finish(ToGrpcStatus(images.status()));
      for (const agent::node::ImageInfo& image : *images) FillImage(image, response->add_images());
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
    agent_.CountImages([this, reactor, response](size_t images) {
      agent::node::NodeStatus s = agent_.CurrentStatus();
      v1::ContainerdStatus* c = response->mutable_containerd();
      c->set_address(agent_.config().containerd_socket);
      c->set_reachable(s.containerd_reachable);
      c->set_version(s.containerd_version);
      c->set_error(s.containerd_error);
      response->set_namespace_(s.namespace_name);
      response->set_snapshotter(s.snapshotter);
      response->set_runtime(s.runtime);
      response->set_data_dir(agent_.config().data_dir);
      *response->mutable_agent_started_at() = ToProto(s.started_at);
      *response->mutable_agent_uptime() = TimeUtil::NanosecondsToDuration(
          std::chrono::duration_cast<std::chrono::nanoseconds>(WallClock::now() - s.started_at)
              .count());
      if (s.loop_lag) {
        v1::LoopLag* lag = response->mutable_loop_lag();
        *lag->mutable_p50() = TimeUtil::NanosecondsToDuration(s.loop_lag->p50.count());
        *lag->mutable_p99() = TimeUtil::NanosecondsToDuration(s.loop_lag->p99.count());
        *lag->mutable_max() = TimeUtil::NanosecondsToDuration(s.loop_lag->max.count());
        lag->set_samples(s.loop_lag->samples);
        *lag->mutable_interval() = TimeUtil::NanosecondsToDuration(s.loop_lag->interval.count());
      }
      // The counts are those of List and ListImages, so status, ps and images agree.
      v1::NodeCounts* counts = response->mutable_counts();
      counts->set_images(static_cast<uint32_t>(images));
      for (const reconcile::DeploymentView& d : agent_.Deployments()) {
        v1::Deployment full;
        FillDeployment(d, &full);
        counts->set_deployments(counts->deployments() + 1);
        for (const v1::Service& service : full.services()) {
          counts->set_services(counts->services() + 1);
          counts->set_replicas_desired(counts->replicas_desired() + service.desired_replicas());
          for (const v1::Replica& r : service.replicas()) {
            if (r.state() == v1::Replica::STATE_RUNNING) {
              counts->set_replicas_running(counts->replicas_running() + 1);
            }
            if (r.state() == v1::Replica::STATE_BACKOFF || r.state() == v1::Replica::STATE_FAILED ||
                r.health() == v1::Replica::HEALTH_UNHEALTHY) {
              counts->set_replicas_failing(counts->replicas_failing() + 1);
            }
          }
        }
        v1::DeploymentSummary* summary = response->add_deployments();
        summary->set_name(d.name);
        summary->set_generation(d.generation);
        summary->set_phase(full.phase());
        summary->set_message(full.message());
      }
      reactor->Finish(grpc::Status::OK);
    });
  });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::Health(grpc::CallbackServerContext* context,
                                               const v1::HealthRequest*,
                                               v1::HealthResponse* response) {
  auto* reactor = context->DefaultReactor();
  // Answered from the loop: that the loop answers at all is "loop live".
  asio::post(agent_.loop(), [this, reactor, response] {
    agent_.CheckHealth([reactor, response](const agent::node::NodeHealth& health) {
      response->set_healthy(health.healthy);
      response->set_reason(health.reason);
      response->set_containerd_reachable(health.containerd_reachable);
      response->set_loop_live(true);
      for (const SupervisedChild& c : health.children) {
        v1::SupervisedChild* child = response->add_children();
        child->set_name(c.name);
        child->set_up(c.up);
        child->set_detail(c.detail);
      }
      reactor->Finish(grpc::Status::OK);
    });
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
