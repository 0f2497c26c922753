#include "agent/containerd/proto_conversions.h"

#include "github.com/containerd/containerd/api/events/container.pb.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"

namespace zlayer::containerd {

namespace {

namespace events = ::containerd::events;
namespace images_v1 = ::containerd::services::images::v1;
namespace snapshots_v1 = ::containerd::services::snapshots::v1;
namespace containers_v1 = ::containerd::services::containers::v1;
namespace task_types = ::containerd::v1::types;

// The message name an Any names: containerd writes the bare full name
// ("containerd.events.TaskExit"); a "prefix/" form is accepted as well.
std::string_view AnyMessageName(const google::protobuf::Any& any) {
  std::string_view url = any.type_url();
  const size_t slash = url.rfind('/');
  return slash == std::string_view::npos ? url : url.substr(slash + 1);
}

template <typename Message>
bool Is(const google::protobuf::Any& any) {
  return AnyMessageName(any) == Message::descriptor()->full_name();
}

// Parses the Any's value as `Message`; false if the Any holds another type or
// does not parse.
template <typename Message>
bool Decode(const google::protobuf::Any& any, Message* message) {
  return Is<Message>(any) && message->ParseFromString(any.value());
}

}  // namespace

TimePoint FromProtoTime(const google::protobuf::Timestamp& timestamp) {
  const auto since_epoch =
      std::chrono::seconds(timestamp.seconds()) + std::chrono::nanoseconds(timestamp.nanos());
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(since_epoch));
}

void ToProtoTime(TimePoint time, google::protobuf::Timestamp* timestamp) {
  const auto since_epoch =
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch());
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  timestamp->set_seconds(seconds.count());
  timestamp->set_nanos(static_cast<int32_t>((since_epoch - seconds).count()));
}

Labels FromProtoLabels(const pb::ProtoLabels& labels) {
  return Labels(labels.begin(), labels.end());
}

void ToProtoLabels(const Labels& labels, pb::ProtoLabels* out) {
  out->clear();
  for (const auto& [key, value] : labels) (*out)[key] = value;
}

Descriptor FromProtoDescriptor(const ::containerd::types::Descriptor& descriptor) {
  Descriptor result;
  result.media_type = descriptor.media_type();
  result.digest = descriptor.digest();
  result.size = descriptor.size();
  result.annotations = FromProtoLabels(descriptor.annotations());
  return result;
}

void ToProtoDescriptor(const Descriptor& descriptor, ::containerd::types::Descriptor* out) {
  out->set_media_type(descriptor.media_type);
  out->set_digest(descriptor.digest);
  out->set_size(descriptor.size);
  ToProtoLabels(descriptor.annotations, out->mutable_annotations());
}

std::vector<Mount> FromProtoMounts(const pb::ProtoMounts& mounts) {
  std::vector<Mount> result;
  result.reserve(mounts.size());
  for (const auto& mount : mounts) {
    result.push_back(
        Mount{mount.type(), mount.source(),
              std::vector<std::string>(mount.options().begin(), mount.options().end())});
  }
  return result;
}

void ToProtoMounts(const std::vector<Mount>& mounts, pb::ProtoMounts* out) {
  out->Clear();
  for (const auto& mount : mounts) {
    auto* proto = out->Add();
    proto->set_type(mount.type);
    proto->set_source(mount.source);
    for (const auto& option : mount.options) proto->add_options(option);
  }
}

ImageRecord FromProtoImage(const images_v1::Image& image) {
  ImageRecord result;
  result.name = image.name();
  result.target = FromProtoDescriptor(image.target());
  result.labels = FromProtoLabels(image.labels());
  result.created_at = FromProtoTime(image.created_at());
  result.updated_at = FromProtoTime(image.updated_at());
  return result;
}

void ToProtoImage(const ImageRecord& image, images_v1::Image* out) {
  out->set_name(image.name);
  ToProtoDescriptor(image.target, out->mutable_target());
  ToProtoLabels(image.labels, out->mutable_labels());
}

SnapshotInfo FromProtoSnapshotInfo(const snapshots_v1::Info& info) {
  SnapshotInfo result;
  result.name = info.name();
  result.parent = info.parent();
  switch (info.kind()) {
    case snapshots_v1::VIEW:
      result.kind = SnapshotKind::kView;
      break;
    case snapshots_v1::ACTIVE:
      result.kind = SnapshotKind::kActive;
      break;
    case snapshots_v1::COMMITTED:
      result.kind = SnapshotKind::kCommitted;
      break;
    default:
      result.kind = SnapshotKind::kUnknown;
      break;
  }
  result.labels = FromProtoLabels(info.labels());
  return result;
}

ContainerRecord FromProtoContainer(const containers_v1::Container& container) {
  ContainerRecord result;
  result.id = container.id();
  result.labels = FromProtoLabels(container.labels());
  result.image = container.image();
  result.runtime = container.runtime().name();
  result.spec_json = container.spec().value();
  result.snapshotter = container.snapshotter();
  result.snapshot_key = container.snapshot_key();
  result.created_at = FromProtoTime(container.created_at());
  return result;
}

void ToProtoContainer(const ContainerRecord& container, containers_v1::Container* out) {
  out->set_id(container.id);
  ToProtoLabels(container.labels, out->mutable_labels());
  out->set_image(container.image);
  out->mutable_runtime()->set_name(container.runtime);
  out->mutable_spec()->set_type_url(kSpecTypeUrl);
  out->mutable_spec()->set_value(container.spec_json);
  out->set_snapshotter(container.snapshotter);
  out->set_snapshot_key(container.snapshot_key);
}

TaskStatus FromProtoTaskStatus(task_types::Status status) {
  switch (status) {
    case task_types::CREATED:
      return TaskStatus::kCreated;
    case task_types::RUNNING:
      return TaskStatus::kRunning;
    case task_types::STOPPED:
      return TaskStatus::kStopped;
    case task_types::PAUSED:
      return TaskStatus::kPaused;
    case task_types::PAUSING:
      return TaskStatus::kPausing;
    default:
      return TaskStatus::kUnknown;
  }
}

TaskInfo FromProtoProcess(const task_types::Process& process, std::string_view container_id) {
  TaskInfo result;
  if (!process.container_id().empty()) {
    result.container_id = process.container_id();
  } else if (!container_id.empty()) {
    result.container_id = std::string(container_id);
  } else {
    result.container_id = process.id();
  }
  if (process.id() != result.container_id) result.exec_id = process.id();
  result.pid = static_cast<pid_t>(process.pid());
  result.status = FromProtoTaskStatus(process.status());
  result.stdin_path = process.stdin();
  result.stdout_path = process.stdout();
  result.stderr_path = process.stderr();
  result.terminal = process.terminal();
  result.exit_status = process.exit_status();
  result.exited_at = FromProtoTime(process.exited_at());
  return result;
}

Event FromEnvelope(const ::containerd::services::events::v1::Envelope& envelope) {
  Event event;
  event.topic = envelope.topic();
  event.namespace_name = envelope.namespace_();
  event.timestamp = FromProtoTime(envelope.timestamp());
  const google::protobuf::Any& any = envelope.event();

  if (events::TaskExit exit; Decode(any, &exit)) {
    event.container_id = exit.container_id();
    event.exec_id = exit.id();
    event.pid = static_cast<pid_t>(exit.pid());
    event.exit_status = exit.exit_status();
    event.exited_at = FromProtoTime(exit.exited_at());
  } else if (events::TaskCreate create; Decode(any, &create)) {
    event.container_id = create.container_id();
    event.pid = static_cast<pid_t>(create.pid());
  } else if (events::TaskStart start; Decode(any, &start)) {
    event.container_id = start.container_id();
    event.pid = static_cast<pid_t>(start.pid());
  } else if (events::TaskDelete deleted; Decode(any, &deleted)) {
    event.container_id = deleted.container_id();
    event.exec_id = deleted.id();
    event.pid = static_cast<pid_t>(deleted.pid());
    event.exit_status = deleted.exit_status();
    event.exited_at = FromProtoTime(deleted.exited_at());
  } else if (events::TaskOOM oom; Decode(any, &oom)) {
    event.container_id = oom.container_id();
  } else if (events::TaskExecAdded added; Decode(any, &added)) {
    event.container_id = added.container_id();
    event.exec_id = added.exec_id();
  } else if (events::TaskExecStarted started; Decode(any, &started)) {
    event.container_id = started.container_id();
    event.exec_id = started.exec_id();
    event.pid = static_cast<pid_t>(started.pid());
  } else if (events::TaskPaused paused; Decode(any, &paused)) {
    event.container_id = paused.container_id();
  } else if (events::TaskResumed resumed; Decode(any, &resumed)) {
    event.container_id = resumed.container_id();
  } else if (events::ContainerCreate container_create; Decode(any, &container_create)) {
    event.container_id = container_create.id();
  } else if (events::ContainerUpdate container_update; Decode(any, &container_update)) {
    event.container_id = container_update.id();
  } else if (events::ContainerDelete container_delete; Decode(any, &container_delete)) {
    event.container_id = container_delete.id();
  }
  return event;
}

}  // namespace zlayer::containerd
