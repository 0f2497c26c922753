#include "agent/node/node.h"

#include <malloc.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <set>

#include "agent/ingress/route_table.h"
#include "agent/logs/paths.h"
#include "agent/spec/edit.h"
#include "agent/spec/kernel_names.h"
#include "agent/spec/parser.h"
#include "agent/spec/serialize.h"
#include "common/supervised_children.h"

namespace zlayer::agent::node {

namespace asio = boost::asio;

namespace {

ServiceChange::Kind ChangeKind(const spec::Service* before, const std::string& before_hash,
                               const spec::Service* after, const std::string& after_hash) {
  if (before == nullptr) return ServiceChange::Kind::kAdd;
  if (after == nullptr) return ServiceChange::Kind::kRemove;
  if (before_hash != after_hash) return ServiceChange::Kind::kUpdate;
  if (before->scale.replicas != after->scale.replicas) return ServiceChange::Kind::kScale;
  return ServiceChange::Kind::kUnchanged;
}

std::map<std::string, std::string> ServiceHashes(const spec::Deployment& deployment) {
  std::map<std::string, std::string> hashes;
  for (const auto& [name, service] : deployment.services) hashes[name] = spec::ServiceHash(service);
  return hashes;
}

}  // namespace

struct Node::Parsed {
  spec::ParseResult result;
  std::map<std::string, std::string> hashes;  // by service, when it parsed
};

Node::Node(NodeParts parts)
    : parts_(parts),
      parse_lane_(asio::make_strand(parts.executors.files)),
      store_lane_(asio::make_strand(parts.executors.files)),
      started_at_(std::chrono::system_clock::now()) {}

void Node::TrimHeap() {
  asio::post(parts_.executors.files, [] { ::malloc_trim(0); });
}

// ---- start-up ---------------------------------------------------------------------

void Node::Load(std::function<void(Status)> done) {
  struct Loaded {
    Result<store::LoadedState> state = store::LoadedState{};
    std::vector<std::optional<spec::Deployment>> specs;  // beside state->deployments
    std::vector<std::string> errors;
  };
  RunOff(
      store_lane_, loop(),
      [this] {
        Loaded loaded;
        loaded.state = parts_.store.LoadAll();
        if (!loaded.state.ok()) return loaded;
        for (const store::StoredDeployment& d : loaded.state->deployments) {
          auto parsed = spec::ParseSpec(d.spec_yaml, "stored spec of " + d.name, parts_.env);
          if (!parsed.ok()) {
            for (const spec::Problem& p : parsed.problems) {
              loaded.errors.push_back("stored deployment " + d.name + ": " +
                                      spec::FormatProblem(p));
            }
            loaded.specs.emplace_back();
          } else {
            loaded.specs.push_back(std::move(*parsed.deployment));
          }
        }
        return loaded;
      },
      [this, done = std::move(done)](Loaded loaded) {
        if (!loaded.state.ok()) {
          parts_.log.Error("desired state: {}", loaded.state.status().message());
          return done(loaded.state.status());
        }
        for (const store::LoadProblem& p : loaded.state->problems) {
          parts_.log.Error("desired state: {}: {}", p.path, p.status.message());
        }
        for (const std::string& error : loaded.errors) parts_.log.Error("{}", error);
        for (size_t i = 0; i < loaded.state->deployments.size(); ++i) {
          store::StoredDeployment& d = loaded.state->deployments[i];
          const std::string name = d.name;
          saved_[name] = d;
          accepted_[name] = Accepted{std::move(d), std::move(loaded.specs[i])};
        }
        parts_.log.Info("desired state: {} deployment(s) from {}", accepted_.size(),
                        parts_.config.data_dir);
        done(Status::Ok());
      });
}

bool Node::OnContainerdUp(const std::string& version) {
  containerd_up_ = true;
  containerd_version_ = version;
  containerd_error_.clear();
  if (reconciling_) {
    parts_.reconciler.Resync();
    return false;
  }
  std::vector<reconcile::DesiredDeployment> desired;
  for (const auto& [name, accepted] : accepted_) {
    if (!accepted.spec) continue;  // its problems were logged when it was loaded
    reconcile::DesiredDeployment d;
    d.generation = accepted.stored.generation;
    d.spec = *accepted.spec;
    d.service_hashes = ServiceHashes(d.spec);
    desired.push_back(std::move(d));
  }
  parts_.reconciler.Start(std::move(desired), [this](Status s) {
    if (!s.ok()) parts_.log.Warn("first look at containerd failed: {}", s.message());
  });
  reconciling_ = true;
  return true;
}

void Node::OnContainerdDown(const std::string& error) {
  containerd_up_ = false;
  containerd_error_ = error;
}

// ---- deployments ------------------------------------------------------------------

void Node::Deploy(std::string yaml, std::string source, bool dry_run,
                  std::function<void(Result<DeployResult>)> done) {
  auto text = std::make_shared<std::string>(std::move(yaml));
  RunOff(
      parse_lane_, loop(),
      [this, text, source = std::move(source)] {
        auto parsed = std::make_shared<Parsed>();
        parsed->result = spec::ParseSpec(*text, source.empty() ? "<spec>" : source, parts_.env);
        if (parsed->result.ok()) parsed->hashes = ServiceHashes(*parsed->result.deployment);
        return parsed;
      },
      [this, text, dry_run, done = std::move(done)](std::shared_ptr<Parsed> parsed) mutable {
        Accept(std::move(parsed), std::move(*text), dry_run, std::move(done));
      });
}

void Node::Accept(std::shared_ptr<Parsed> parsed, std::string yaml, bool dry_run,
                  std::function<void(Result<DeployResult>)> done) {
  DeployResult result;
  result.dry_run = dry_run;
  if (!parsed->result.ok()) {
    result.problems = std::move(parsed->result.problems);
    return done(std::move(result));
  }
  spec::Deployment& deployment = *parsed->result.deployment;
  // The node's ports are shared across deployments too (the parser checks one deployment).
  std::vector<spec::PortClaim> claims;
  if (reconciling_) {
    for (const reconcile::DeploymentView& view : parts_.reconciler.Deployments()) {
      for (const reconcile::ServiceView& service : view.services) {
        if (const spec::Service* s = parts_.reconciler.ServiceSpec(view.name, service.name)) {
          for (const spec::ListenPort& port : spec::NodePorts(*s)) {
            claims.push_back({view.name, service.name, port});
          }
        }
      }
    }
  }
  if (auto conflicts = spec::NodePortConflicts(deployment, claims); !conflicts.empty()) {
    std::string message = "deployment " + deployment.name + ": ";
    for (size_t i = 0; i < conflicts.size(); ++i) message += (i ? "; " : "") + conflicts[i];
    return done(FailedPreconditionError(std::move(message)));
  }
  // Public routes and ports are the node's too: one owner each.
  {
    std::vector<spec::Deployment> others;
    for (const auto& [name, accepted] : accepted_) {
      if (name != deployment.name && accepted.spec) others.push_back(*accepted.spec);
    }
    if (Status routes = ingress::CheckRouteConflicts(deployment, others); !routes.ok()) {
      return done(FailedPreconditionError(
          fmt::format("deployment {}: {}", deployment.name, routes.message())));
    }
  }
  const std::string name = deployment.name;
  result.deployment = name;

  // Compare with what was accepted last, service by service.
  const spec::Deployment* before = nullptr;
  uint64_t generation = 0;
  if (auto it = accepted_.find(name); it != accepted_.end()) {
    generation = it->second.stored.generation;
    if (it->second.spec) before = &*it->second.spec;
  }
  std::set<std::string> names;
  if (before != nullptr) {
    for (const auto& [n, s] : before->services) names.insert(n);
  }
  for (const auto& [n, s] : deployment.services) names.insert(n);
  bool changed = before == nullptr;
  for (const std::string& n : names) {
    const spec::Service* b = nullptr;
    const spec::Service* a = nullptr;
    if (before != nullptr) {
      if (auto it = before->services.find(n); it != before->services.end()) b = &it->second;
    }
    if (auto it = deployment.services.find(n); it != deployment.services.end()) a = &it->second;
    ServiceChange change;
    change.service = n;
    change.kind = ChangeKind(b, b ? spec::ServiceHash(*b) : "", a, a ? parsed->hashes[n] : "");
    change.replicas_before = b ? b->scale.replicas : 0;
    change.replicas_after = a ? a->scale.replicas : 0;
    if (a != nullptr) change.strategy = reconcile::ChooseUpdateStrategy(*a);
    changed = changed || change.kind != ServiceChange::Kind::kUnchanged;
    result.changes.push_back(change);
  }
  result.changed = changed;
  result.generation = changed ? generation + 1 : generation;
  if (dry_run || !changed) return done(std::move(result));

  reconcile::DesiredDeployment desired;
  desired.generation = result.generation;
  desired.spec = deployment;
  desired.service_hashes = std::move(parsed->hashes);
  store::StoredDeployment stored;
  stored.name = name;
  stored.generation = result.generation;
  stored.spec_yaml = std::move(yaml);
  stored.applied_at = std::chrono::system_clock::now();
  // Accepted here, on the loop: the generation is taken now, so concurrent deploys of one
  // deployment number 1, 2, 3... in the order they are accepted. The save (fsync) runs on
  // the store lane in that same order, then the reconciler gets the spec back on the loop.
  accepted_[name] = Accepted{stored, std::move(deployment)};
  RunOff(
      store_lane_, loop(), [this, stored] { return parts_.store.Save(stored); },
      [this, stored, desired = std::move(desired), result = std::move(result),
       done = std::move(done)](Status saved) mutable {
        if (!saved.ok()) {
          // Nothing changed on disk: unless a later deploy or delete was accepted meanwhile,
          // the accepted state falls back to what the store holds.
          auto it = accepted_.find(stored.name);
          if (it != accepted_.end() && it->second.stored.generation == stored.generation) {
            if (auto s = saved_.find(stored.name); s != saved_.end()) {
              auto again = spec::ParseSpec(s->second.spec_yaml, "stored", parts_.env);
              it->second = Accepted{s->second, std::nullopt};
              if (again.ok()) it->second.spec = std::move(*again.deployment);
            } else {
              accepted_.erase(it);
            }
          }
          return done(saved.Wrap("store deployment " + stored.name));
        }
        saved_[stored.name] = stored;
        // Before containerd is reachable the accepted spec is picked up by
        // OnContainerdUp.
        if (reconciling_) parts_.reconciler.Apply(std::move(desired));
        done(std::move(result));
      });
}

void Node::WaitConverged(const std::string& name, uint64_t generation,
                         std::function<void(Status)> done) {
  parts_.reconciler.WaitConverged(name, generation, std::move(done));
}

void Node::Delete(const std::string& name, bool wait, std::function<void(Result<uint32_t>)> done) {
  uint32_t replicas = 0;
  bool exists = accepted_.count(name) > 0;
  for (const auto& d : parts_.reconciler.Deployments()) {
    if (d.name == name) {
      exists = true;
      replicas = static_cast<uint32_t>(d.replicas.size());
    }
  }
  if (!exists) return done(NotFoundError("deployment " + name + " not found"));
  // Accepted on the loop, removed from the store on the store lane: a deploy of the same name
  // that arrives after this delete starts again at generation 1 and is saved after the removal.
  std::optional<Accepted> previous;
  if (auto it = accepted_.find(name); it != accepted_.end()) {
    previous = std::move(it->second);
    accepted_.erase(it);
  }
  RunOff(
      store_lane_, loop(),
      [this, name] {
        Status removed = parts_.store.Remove(name);
        // Containers without a stored spec (an earlier failed delete) still go.
        return removed.code() == StatusCode::kNotFound ? Status::Ok() : removed;
      },
      [this, name, wait, replicas, previous = std::move(previous),
       done = std::move(done)](Status removed) mutable {
        if (!removed.ok()) {
          if (previous && saved_.count(name) && accepted_.count(name) == 0) {
            accepted_[name] = std::move(*previous);
          }
          return done(removed.Wrap("delete " + name));
        }
        saved_.erase(name);
        parts_.log.Info("deleting deployment {} ({} replica(s))", name, replicas);
        if (!wait) {
          parts_.reconciler.Delete(name, [this](Status) { TrimHeap(); });
          return done(replicas);
        }
        parts_.reconciler.Delete(name, [this, replicas, done = std::move(done)](Status s) mutable {
          TrimHeap();
          if (!s.ok()) return done(s);
          done(replicas);
        });
      });
}

void Node::Scale(const std::string& deployment, const std::string& service, uint32_t replicas,
                 std::function<void(Result<ScaleResult>)> done) {
  auto it = accepted_.find(deployment);
  if (it == accepted_.end()) {
    return done(NotFoundError("deployment " + deployment + " not found"));
  }
  ScaleResult result;
  result.generation = it->second.stored.generation;
  if (it->second.spec) {
    auto s = it->second.spec->services.find(service);
    if (s == it->second.spec->services.end()) {
      return done(NotFoundError("service " + service + " not found in deployment " + deployment));
    }
    result.previous_replicas = s->second.scale.replicas;
    if (result.previous_replicas == replicas) return done(result);
    // The rule `deploy` applies at scale.replicas, said about the count asked for.
    if (auto why = spec::ReplicasProblem(s->second, replicas)) {
      return done(InvalidArgumentError("scale " + deployment + "/" + service + ": " + *why));
    }
  }
  // The spec's text is edited (a YAML parse and emit) off the loop.
  RunOff(
      parse_lane_, loop(),
      [yaml = it->second.stored.spec_yaml, service, replicas] {
        return spec::WithReplicas(yaml, service, replicas);
      },
      [this, deployment, service, replicas, result,
       done = std::move(done)](Result<std::string> edited) mutable {
        if (!edited.ok()) {
          if (edited.status().code() == StatusCode::kNotFound) {
            return done(
                NotFoundError("service " + service + " not found in deployment " + deployment));
          }
          return done(edited.status().Wrap("scale " + deployment + "/" + service));
        }
        parts_.log.Info("scaling {}/{} from {} to {} replica(s)", deployment, service,
                        result.previous_replicas, replicas);
        Deploy(
            std::move(*edited), "scale of " + deployment + "/" + service, false,
            [result, done = std::move(done)](Result<DeployResult> deployed) mutable {
              if (!deployed.ok()) return done(deployed.status());
              if (!deployed->problems.empty()) {
                return done(InvalidArgumentError(spec::FormatProblem(deployed->problems.front())));
              }
              result.generation = deployed->generation;
              done(result);
            });
      });
}

std::vector<reconcile::DeploymentView> Node::Deployments() const {
  auto views = parts_.reconciler.Deployments();
  // Accepted but not yet known to the reconciler (containerd still away).
  for (const auto& [name, accepted] : accepted_) {
    bool known = false;
    for (const auto& v : views) known = known || v.name == name;
    if (!known) views.push_back({name, accepted.stored.generation, false, {}});
  }
  std::sort(views.begin(), views.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return views;
}

uint64_t Node::WatchDeployments(std::function<void()> on_change) {
  return parts_.reconciler.Subscribe(std::move(on_change));
}

void Node::UnwatchDeployments(uint64_t id) { parts_.reconciler.Unsubscribe(id); }

Result<std::vector<std::string>> Node::ResolveTarget(const std::string& target) const {
  auto views = parts_.reconciler.Deployments();
  std::vector<std::string> ids;
  for (const auto& d : views) {
    for (const auto& r : d.replicas) {
      if (r.id == target) return std::vector<std::string>{r.id};
    }
  }
  auto slash = target.find('/');
  std::set<std::string> deployments_with_service;
  for (const auto& d : views) {
    for (const auto& r : d.replicas) {
      bool match = slash != std::string::npos ? (d.name == target.substr(0, slash) &&
                                                 r.service == target.substr(slash + 1))
                                              : (r.service == target || d.name == target);
      if (match) {
        ids.push_back(r.id);
        if (r.service == target) deployments_with_service.insert(d.name);
      }
    }
  }
  if (deployments_with_service.size() > 1) {
    std::string names;
    for (const auto& n : deployments_with_service) {
      names += (names.empty() ? "" : ", ") + n + "/" + target;
    }
    return InvalidArgumentError("target " + target + " is ambiguous: " + names);
  }
  if (ids.empty()) return NotFoundError("no replica matches " + target);
  std::sort(ids.begin(), ids.end());
  return ids;
}

void Node::Inspect(const std::string& target,
                   std::function<void(Result<std::vector<ReplicaDetail>>)> done) {
  auto ids = ResolveTarget(target);
  if (!ids.ok()) return done(ids.status());
  std::vector<ReplicaDetail> details;
  for (const auto& d : parts_.reconciler.Deployments()) {
    for (const auto& r : d.replicas) {
      if (std::find(ids->begin(), ids->end(), r.id) == ids->end()) continue;
      ReplicaDetail detail;
      detail.replica = r;
      if (auto paths = logs::IoPathsFor(parts_.config, r.id); paths.ok()) {
        detail.log_path = paths->log_file;
      }
      detail.stop_grace_period = std::chrono::seconds(10);
      if (const spec::Service* s = parts_.reconciler.ServiceSpec(r.deployment, r.service)) {
        detail.stop_grace_period = s->stop_grace_period;
      }
      detail.stop_signal = spec::SignalName(r.stop_signal);
      detail.health_history = parts_.health.History(r.id);
      details.push_back(std::move(detail));
    }
  }
  // The containers' records (OCI spec, image, labels) come from containerd.
  RunOff(
      parts_.executors.queries, loop(),
      [this, details = std::move(details)]() mutable {
        for (ReplicaDetail& detail : details) {
          auto record = parts_.containers.GetContainer(detail.replica.id);
          if (record.ok()) detail.container = std::move(*record);
        }
        return std::move(details);
      },
      [done = std::move(done)](std::vector<ReplicaDetail> details) mutable {
        done(std::move(details));
      });
}

Result<std::shared_ptr<exec::ExecSession>> Node::StartExec(const std::string& target,
                                                           exec::ExecOptions options,
                                                           exec::ExecCallbacks callbacks) {
  auto ids = ResolveTarget(target);
  if (!ids.ok()) return ids.status();
  std::optional<reconcile::ReplicaView> chosen;
  for (const auto& d : parts_.reconciler.Deployments()) {
    for (const auto& r : d.replicas) {
      if (r.state != reconcile::ReplicaState::kRunning ||
          std::find(ids->begin(), ids->end(), r.id) == ids->end()) {
        continue;
      }
      if (!chosen || r.replica < chosen->replica) chosen = r;
    }
  }
  if (!chosen) {
    return FailedPreconditionError(fmt::format("exec {}: no running replica", target));
  }
  auto paths = logs::IoPathsFor(parts_.config, chosen->id);
  if (!paths.ok()) return paths.status();
  exec::ExecContext context{loop(), parts_.executors.lifecycle, parts_.containers, parts_.tasks,
                            &parts_.log};
  return exec::ExecSession::Start(context, parts_.executors.files, paths->fifo_dir, chosen->id,
                                  std::move(options), std::move(callbacks));
}

// ---- the node ---------------------------------------------------------------------

NodeStatus Node::CurrentStatus() const {
  NodeStatus s;
  s.containerd_reachable = containerd_up_;
  s.containerd_version = containerd_version_;
  s.containerd_error = containerd_error_;
  s.namespace_name = parts_.config.namespace_name;
  s.snapshotter = parts_.config.snapshotter;
  s.runtime = parts_.config.runtime;
  s.socket = parts_.config.agent_socket;
  s.started_at = started_at_;
  if (parts_.loop_lag != nullptr) s.loop_lag = parts_.loop_lag->Stats();
  return s;
}

void Node::CheckHealth(std::function<void(NodeHealth)> done) {
  RunOff(
      parts_.executors.files, loop(),
      [run_dir = parts_.config.run_dir] { return ReadSupervisedChildren(run_dir); },
      [this, done = std::move(done)](Result<std::vector<SupervisedChild>> children) mutable {
        done(JudgeNodeHealth(containerd_up_, containerd_error_, children));
      });
}

// ---- images -----------------------------------------------------------------------

void Node::ImportImage(std::string path, std::string name,
                       std::function<void(const ImportProgress&)> on_progress,
                       std::function<void(Result<std::vector<ImageInfo>>)> done) {
  RunOff(
      parts_.executors.images, loop(),
      [this, path = std::move(path), name = std::move(name), on_progress] {
        return parts_.images.Import(path, name, [this, on_progress](const ImportProgress& p) {
          asio::post(loop(), [on_progress, p] { on_progress(p); });
        });
      },
      std::move(done));
}

void Node::PullImage(std::string reference, std::string platform,
                     std::function<void(const PullResolvedInfo&)> on_resolved,
                     std::function<void(const ImportProgress&)> on_progress,
                     std::function<void(Result<ImageInfo>)> done) {
  if (Status s = parts_.images.CheckPlatform(platform); !s.ok()) return done(s);
  RunOff(
      parts_.executors.images, loop(),
      [this, reference = std::move(reference), platform = std::move(platform), on_resolved,
       on_progress] {
        return parts_.images.Pull(
            reference, platform,
            [this, on_resolved](const PullResolvedInfo& info) {
              asio::post(loop(), [on_resolved, info] { on_resolved(info); });
            },
            [this, on_progress](const ImportProgress& p) {
              asio::post(loop(), [on_progress, p] { on_progress(p); });
            });
      },
      std::move(done));
}

void Node::ListImages(std::function<void(Result<std::vector<ImageInfo>>)> done) {
  RunOff(
      parts_.executors.queries, loop(), [this] { return parts_.images.List(); }, std::move(done));
}

void Node::CountImages(std::function<void(size_t)> done) {
  if (!containerd_up_) return done(images_known_);
  ListImages([this, done = std::move(done)](Result<std::vector<ImageInfo>> images) {
    if (images.ok()) images_known_ = images->size();
    done(images_known_);
  });
}

void Node::RemoveImage(std::string reference, bool force, std::function<void(Status)> done) {
  if (!force) {
    // Refuse to remove an image a desired deployment uses.
    std::string users;
    for (const auto& d : parts_.reconciler.Deployments()) {
      for (const auto& r : d.replicas) {
        if (r.image == reference) users += (users.empty() ? "" : ", ") + d.name + "/" + r.service;
      }
    }
    if (!users.empty()) {
      return done(FailedPreconditionError("image " + reference + " is used by " + users +
                                          " (use --force to remove it anyway)"));
    }
  }
  RunOff(
      parts_.executors.images, loop(),
      [this, reference = std::move(reference)] { return parts_.images.Remove(reference); },
      std::move(done));
}

}  // namespace zlayer::agent::node
