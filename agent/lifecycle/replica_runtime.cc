#include "agent/lifecycle/replica_runtime.h"

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "agent/network/dns/dns_records.h"
#include "agent/runtime/container_labels.h"
#include "agent/runtime/etc_files.h"
#include "agent/runtime/runtime_spec.h"
#include "agent/runtime/user.h"
#include "agent/spec/model.h"
#include "agent/spec/naming.h"
#include "common/process_start.h"

namespace zlayer::lifecycle {
namespace {

namespace fs = std::filesystem;
using containerd::TaskStatus;

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return ErrnoError("write " + path);
  return Status::Ok();
}

Status MakeDirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return Status(StatusCode::kInternal, "create " + path + ": " + ec.message());
  return Status::Ok();
}

bool Exists(const Status& s) { return s.code() == StatusCode::kAlreadyExists; }
bool Missing(const Status& s) { return s.code() == StatusCode::kNotFound; }

}  // namespace

Result<NodeFacts> ReadNodeFacts() {
  NodeFacts facts;
  auto caps = runtime::NodeCapabilities();
  if (!caps.ok()) return caps.status();
  facts.capabilities = *caps;
  auto limits = runtime::NodeHardLimits();
  if (!limits.ok()) return limits.status();
  facts.hard_limits = *limits;
  facts.resolv_conf = ReadTextFile("/etc/resolv.conf");
  return facts;
}

Result<std::vector<std::string>> ReadFilesFromMounts(const std::vector<containerd::Mount>& mounts,
                                                     const std::vector<std::string>& paths) {
  char dir_template[] = "/tmp/zl-rootfs-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return ErrnoError("mkdtemp for a rootfs view");
  const std::string dir = dir_template;
  Status mounted = Status::Ok();
  for (const containerd::Mount& m : mounts) {
    unsigned long flags = 0;
    std::string data;
    for (const std::string& option : m.options) {
      if (option == "rbind") {
        flags |= MS_BIND | MS_REC;
      } else if (option == "bind") {
        flags |= MS_BIND;
      } else if (option == "ro") {
        flags |= MS_RDONLY;
      } else if (option == "rw") {
        // default
      } else {
        data += (data.empty() ? "" : ",") + option;
      }
    }
    const char* type = (flags & MS_BIND) ? nullptr : m.type.c_str();
    if (::mount(m.source.c_str(), dir.c_str(), type, flags,
                data.empty() ? nullptr : data.c_str()) != 0) {
      mounted = ErrnoError("mount " + m.type + " " + m.source);
      break;
    }
  }
  std::vector<std::string> contents;
  if (mounted.ok()) {
    for (const std::string& path : paths) contents.push_back(ReadTextFile(dir + path));
    ::umount2(dir.c_str(), MNT_DETACH);
  }
  ::rmdir(dir.c_str());
  if (!mounted.ok()) return mounted;
  return contents;
}

ReplicaRuntime::ReplicaRuntime(containerd::Client& client, ImageSource& images, NodeConfig config,
                               NodeFacts facts, Logger& log, RuncPaths paths)
    : client_(client),
      images_(images),
      config_(std::move(config)),
      facts_(std::move(facts)),
      log_(log),
      paths_(std::move(paths)) {}

std::string ReplicaRuntime::ContainerDir(const std::string& id) const {
  return config_.state_dir + "/" + id;
}

Result<std::vector<reconcile::ObservedContainer>> ReplicaRuntime::ObserveAll() {
  auto containers =
      client_.ListContainers(std::string("labels.\"") + spec::kLabelDeployment + "\"");
  if (!containers.ok()) return containers.status();
  auto tasks = client_.ListTasks();
  if (!tasks.ok()) return tasks.status();
  std::map<std::string, containerd::TaskInfo> by_id;
  for (const containerd::TaskInfo& t : *tasks) by_id[t.container_id] = t;
  std::vector<reconcile::ObservedContainer> observed;
  for (const containerd::ContainerRecord& record : *containers) {
    std::optional<containerd::TaskInfo> task;
    if (auto it = by_id.find(record.id); it != by_id.end()) task = it->second;
    if (auto o = reconcile::Observe(record, task)) {
      // containerd does not say when a task started; the kernel does (for `zlayer ps`'s
      // uptime of replicas adopted after an agent restart).
      if (reconcile::IsRunning(*o) && o->pid > 0) {
        if (auto started = ProcessStartTime(o->pid); started.ok()) o->started_at = *started;
      }
      observed.push_back(*o);
    }
  }
  return observed;
}

Result<std::optional<PreparedImage>> ReplicaRuntime::LocalImage(const spec::Service& service) {
  switch (service.image.pull_policy) {
    case spec::PullPolicy::kNever:
    case spec::PullPolicy::kIfNotPresent:
      return images_.Local(service.image.name);
    case spec::PullPolicy::kAlways:
    case spec::PullPolicy::kNewer:
      return std::optional<PreparedImage>();  // the registry decides
  }
  return std::optional<PreparedImage>();
}

Result<PreparedImage> ReplicaRuntime::PrepareImage(const spec::Service& service) {
  return images_.Prepare(service.image.name, service.image.pull_policy);
}

Result<reconcile::ObservedContainer> ReplicaRuntime::Create(
    const std::string& id, const spec::Deployment& deployment, const spec::Service& service,
    uint32_t replica, const std::string& spec_hash, const PreparedImage& image,
    const reconcile::AttachedNetwork& network) {
  const std::string& snapshotter = config_.snapshotter;

  auto lease = client_.CreateLease(std::chrono::hours(1));
  if (!lease.ok()) return lease.status().Wrap("replica " + id);
  // Whatever happens below, the lease goes; the container record keeps the
  // snapshot alive once it exists.
  struct LeaseGuard {
    containerd::Client& client;
    std::string id;
    ~LeaseGuard() { (void)client.DeleteLease(id, false); }
  } guard{client_, *lease};

  auto mounts = client_.PrepareSnapshot(snapshotter, id, image.top_chain_id, {}, *lease);
  if (!mounts.ok() && Exists(mounts.status())) {
    // Left by a create that failed half-way: start over.
    (void)client_.RemoveSnapshot(snapshotter, id);
    mounts = client_.PrepareSnapshot(snapshotter, id, image.top_chain_id, {}, *lease);
  }
  if (!mounts.ok()) return mounts.status().Wrap("replica " + id + ": prepare rootfs");

  const std::string user = runtime::EffectiveUser(service, image.config);
  auto files = ReadFilesFromMounts(*mounts, {"/etc/passwd", "/etc/group"});
  std::string passwd, group;
  if (files.ok()) {
    passwd = (*files)[0];
    group = (*files)[1];
  } else if (!user.empty()) {
    return files.status().Wrap("replica " + id + ": read the image's users");
  } else {
    log_.Warn("replica {}: cannot read the image's /etc/group ({}); running as 0:0", id,
              files.status().message());
  }
  auto resolved = runtime::ResolveUser(user, passwd, group);
  if (!resolved.ok()) return resolved.status().Wrap("replica " + id + ": user");

  runtime::ReplicaContext ctx;
  ctx.container_id = id;
  ctx.namespace_name = config_.namespace_name;
  ctx.node_capabilities = facts_.capabilities;
  ctx.node_hard_limits = facts_.hard_limits;
  ctx.user = *resolved;
  const std::string dir = ContainerDir(id);
  const std::string etc = dir + "/etc";
  ZLAYER_RETURN_IF_ERROR(MakeDirs(etc));
  const std::string hostname = service.hostname.empty() ? service.name : service.hostname;
  ctx.files = {etc + "/hosts", etc + "/resolv.conf", etc + "/hostname"};
  ctx.network_namespace = network.netns;
  ZLAYER_RETURN_IF_ERROR(
      WriteTextFile(ctx.files.hosts, runtime::RenderHostsFile(hostname, network.address)));
  ZLAYER_RETURN_IF_ERROR(WriteTextFile(
      ctx.files.resolv_conf,
      network.nameserver.empty()
          ? runtime::RenderResolvConf(facts_.resolv_conf)
          : agent::network::ContainerResolvConf(network.nameserver, deployment.name)));
  ZLAYER_RETURN_IF_ERROR(WriteTextFile(ctx.files.hostname, runtime::RenderHostnameFile(hostname)));
  for (const spec::Storage& storage : service.storage) {
    if (const auto* named = std::get_if<spec::NamedVolume>(&storage)) {
      std::string path = runtime::NamedVolumeDir(config_.data_dir, named->name);
      ZLAYER_RETURN_IF_ERROR(MakeDirs(path));
      ctx.named_volume_dirs[named->name] = path;
    } else if (const auto* anonymous = std::get_if<spec::AnonymousVolume>(&storage)) {
      std::string path = runtime::AnonymousVolumeDir(dir, anonymous->target);
      ZLAYER_RETURN_IF_ERROR(MakeDirs(path));
      ctx.anonymous_volume_dirs[anonymous->target] = path;
    }
  }

  auto spec = runtime::BuildRuntimeSpec(service, image.config, ctx);
  if (!spec.ok()) return spec.status().Wrap("replica " + id);

  containerd::ContainerRecord record;
  record.id = id;
  record.labels =
      runtime::ContainerLabels(deployment.name, service, replica, spec_hash, image.config);
  record.image = image.name;
  record.runtime = config_.runtime;
  record.spec_json = spec->dump();
  record.snapshotter = snapshotter;
  record.snapshot_key = id;
  Status created = client_.CreateContainer(record, *lease);
  if (Exists(created)) {
    // A record without our current spec (an earlier failed attempt): replace it.
    (void)client_.DeleteContainer(id);
    created = client_.CreateContainer(record, *lease);
  }
  if (!created.ok()) return created.Wrap("replica " + id);
  {
    std::lock_guard lock(mounts_mu_);
    mounts_[id] = *mounts;
  }
  log_.Info("created {} from {} ({})", id, image.name, image.digest);
  return *reconcile::Observe(record, std::nullopt);
}

Result<pid_t> ReplicaRuntime::Start(const std::string& id) {
  auto task = client_.GetTask(id);
  if (task.ok()) {
    if (task->status == TaskStatus::kRunning) return task->pid;
    auto deleted = client_.DeleteTask(id);
    if (!deleted.ok() && !Missing(deleted.status())) {
      return deleted.status().Wrap("replica " + id + ": delete the old task");
    }
  } else if (!Missing(task.status())) {
    return task.status().Wrap("replica " + id);
  }
  auto mounts = RootfsMounts(id);
  if (!mounts.ok()) return mounts.status().Wrap("replica " + id + ": rootfs");
  containerd::CreateTaskRequest request;
  request.container_id = id;
  request.rootfs = std::move(*mounts);
  request.stdout_path = ContainerDir(id) + "/stdout";
  request.stderr_path = ContainerDir(id) + "/stderr";
  auto pid = client_.CreateTask(request);
  if (!pid.ok()) return pid.status().Wrap("replica " + id + ": create task");
  auto started = client_.StartTask(id, "");
  if (!started.ok()) {
    (void)client_.DeleteTask(id);
    return started.status().Wrap("replica " + id + ": start task");
  }
  return *started;
}

Result<std::vector<containerd::Mount>> ReplicaRuntime::RootfsMounts(const std::string& id) {
  {
    std::lock_guard lock(mounts_mu_);
    if (auto it = mounts_.find(id); it != mounts_.end()) return it->second;
  }
  auto mounts = client_.SnapshotMounts(config_.snapshotter, id);
  if (!mounts.ok()) return mounts.status();
  std::lock_guard lock(mounts_mu_);
  mounts_[id] = *mounts;
  return mounts;
}

void ReplicaRuntime::ForgetMounts(const std::string& id) {
  std::lock_guard lock(mounts_mu_);
  mounts_.erase(id);
}

Status ReplicaRuntime::Signal(const std::string& id, int signal, bool all) {
  Status killed = client_.KillTask(id, "", signal, all);
  if (killed.ok() || Missing(killed)) return killed;
  return killed.Wrap("signal " + id);
}

Result<bool> ReplicaRuntime::TaskRunning(const std::string& id) {
  auto task = client_.GetTask(id);
  if (!task.ok() && Missing(task.status())) return false;
  if (!task.ok()) return task.status().Wrap("task " + id);
  return task->status == TaskStatus::kRunning || task->status == TaskStatus::kPaused;
}

Status ReplicaRuntime::DeleteTask(const std::string& id) {
  auto deleted = client_.DeleteTask(id);
  if (!deleted.ok() && !Missing(deleted.status())) {
    return deleted.status().Wrap("delete task " + id);
  }
  return Status::Ok();
}

Status ReplicaRuntime::Remove(const std::string& id) {
  ForgetMounts(id);
  Status removed = client_.RemoveSnapshot(config_.snapshotter, id);
  if (!removed.ok() && !Missing(removed)) return removed.Wrap("remove " + id + ": rootfs");
  Status deleted = client_.DeleteContainer(id);
  if (!deleted.ok() && !Missing(deleted)) return deleted.Wrap("remove " + id);
  std::error_code ec;
  fs::remove_all(ContainerDir(id) + "/etc", ec);
  fs::remove_all(ContainerDir(id) + "/volumes", ec);
  return Status::Ok();
}

Result<int> ReplicaRuntime::RemoveLeftovers() {
  auto tasks = client_.ListTasks();
  if (!tasks.ok()) return tasks.status().Wrap("looking for leftovers");
  std::set<std::string> live;
  for (const containerd::TaskInfo& t : *tasks) live.insert(t.container_id);
  int removed = 0;
  std::error_code ec;
  // runc state: the container's init process is gone, and containerd no
  // longer knows the task, so nothing will ever `runc delete` it.
  const fs::path runc_dir = fs::path(paths_.runc_root) / config_.namespace_name;
  for (const fs::directory_entry& entry : fs::directory_iterator(runc_dir, ec)) {
    const std::string id = entry.path().filename();
    if (live.count(id) || !entry.is_directory()) continue;
    const auto state = nlohmann::json::parse(ReadTextFile(entry.path() / "state.json"), nullptr,
                                             /*allow_exceptions=*/false);
    const pid_t pid = state.is_object() ? state.value("init_process_pid", 0) : 0;
    if (pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH)) continue;  // still alive
    std::error_code removed_ec;
    fs::remove_all(entry.path(), removed_ec);
    if (removed_ec) {
      log_.Warn("leftover runc state {}: {}", entry.path().string(), removed_ec.message());
      continue;
    }
    log_.Info("removed leftover runc state of {}", id);
    ++removed;
  }
  // cgroups: rmdir removes only empty ones, so a cgroup that still holds a
  // process stays.
  std::vector<fs::path> namespace_dirs = {fs::path(paths_.cgroup_root) / config_.namespace_name};
  for (const fs::directory_entry& controller : fs::directory_iterator(paths_.cgroup_root, ec)) {
    if (controller.is_directory())
      namespace_dirs.push_back(controller.path() / config_.namespace_name);
  }
  for (const fs::path& dir : namespace_dirs) {
    std::error_code dir_ec;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, dir_ec)) {
      const std::string id = entry.path().filename();
      if (live.count(id) || !entry.is_directory()) continue;
      if (::rmdir(entry.path().c_str()) == 0) {
        log_.Debug("removed leftover cgroup {}", entry.path().string());
        ++removed;
      }
    }
  }
  return removed;
}

}  // namespace zlayer::lifecycle
