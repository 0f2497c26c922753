// containerd's objects as plain C++ values: what the agent reads and writes
// through containerd's API, without any generated protobuf type. The gRPC
// implementation converts at its boundary; everything above it (images,
// runtime, reconciler) and the in-memory fake use only these.
//
// Thread safety: plain values; copy freely.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace zlayer::containerd {

using Labels = std::map<std::string, std::string>;
using TimePoint = std::chrono::system_clock::time_point;

// Label keys containerd (and its Go client) give meaning to.
inline constexpr const char* kLabelGcExpire = "containerd.io/gc.expire";
inline constexpr const char* kLabelGcRefContentConfig = "containerd.io/gc.ref.content.config";
inline constexpr const char* kLabelGcRefContentLayerPrefix = "containerd.io/gc.ref.content.l.";
inline constexpr const char* kLabelGcRefContentManifestPrefix = "containerd.io/gc.ref.content.m.";
inline constexpr const char* kLabelGcRefSnapshotPrefix = "containerd.io/gc.ref.snapshot.";
inline constexpr const char* kLabelUncompressed = "containerd.io/uncompressed";
inline constexpr const char* kLabelSnapshotRef = "containerd.io/snapshot.ref";
inline constexpr const char* kLabelDefaultSnapshotter = "containerd.io/defaults/snapshotter";
inline constexpr const char* kLabelDefaultRuntime = "containerd.io/defaults/runtime";
inline constexpr const char* kLabelStopSignal = "io.containerd.image.config.stop-signal";

// An OCI content descriptor.
struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<hex>"
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
};

struct ContentInfo {
  std::string digest;
  int64_t size = 0;
  Labels labels;
};

struct ImageRecord {
  std::string name;  // the full reference, e.g. "docker.io/library/busybox:latest"
  Descriptor target;  // the index or manifest
  Labels labels;
  TimePoint created_at{};
  TimePoint updated_at{};
};

// A mount as containerd's snapshotters describe them (type, source, options).
struct Mount {
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

enum class SnapshotKind { kUnknown, kView, kActive, kCommitted };

struct SnapshotInfo {
  std::string name;
  std::string parent;
  SnapshotKind kind = SnapshotKind::kUnknown;
  Labels labels;
};

struct ContainerRecord {
  std::string id;
  Labels labels;
  std::string image;
  std::string runtime = "io.containerd.runc.v2";
  // The OCI runtime spec as JSON; sent as an Any of type
  // types.containerd.io/opencontainers/runtime-spec/1/Spec.
  std::string spec_json;
  std::string snapshotter;
  std::string snapshot_key;
  TimePoint created_at{};
};

enum class TaskStatus { kUnknown, kCreated, kRunning, kStopped, kPaused, kPausing };
const char* TaskStatusName(TaskStatus status);  // "running", "stopped", ...

// A task's (or exec process's) state as Tasks.Get / Tasks.List report it.
struct TaskInfo {
  std::string container_id;
  std::string exec_id;  // empty for the init process
  pid_t pid = 0;
  TaskStatus status = TaskStatus::kUnknown;
  std::string stdin_path, stdout_path, stderr_path;
  bool terminal = false;
  uint32_t exit_status = 0;
  TimePoint exited_at{};
};

struct CreateTaskRequest {
  std::string container_id;
  std::vector<Mount> rootfs;  // the container snapshot's mounts (Snapshots.Mounts)
  std::string stdin_path, stdout_path, stderr_path;  // FIFOs; "" for none
  bool terminal = false;
};

struct ExecRequest {
  std::string container_id;
  std::string exec_id;
  std::string process_json;  // OCI runtime-spec Process as JSON
  std::string stdin_path, stdout_path, stderr_path;
  bool terminal = false;
};

struct ExitInfo {
  pid_t pid = 0;
  uint32_t exit_status = 0;  // 128+N for a process killed by signal N
  TimePoint exited_at{};
};

// One event from containerd's event stream, flattened to what the agent uses.
struct Event {
  std::string topic;      // "/tasks/exit", "/tasks/oom", "/tasks/start", ...
  std::string namespace_name;
  TimePoint timestamp{};
  std::string container_id;  // tasks and containers events
  std::string exec_id;       // /tasks/exit: the exec id, or the container id for init
  pid_t pid = 0;
  uint32_t exit_status = 0;
  TimePoint exited_at{};
};

struct VersionInfo {
  std::string version;
  std::string revision;
};

}  // namespace zlayer::containerd
