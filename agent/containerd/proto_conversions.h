// Private to zlayer_containerd: conversions between containerd's generated
// messages and the plain values of types.h. Pure functions, no I/O.
#pragma once

#include <google/protobuf/map.h>
#include <google/protobuf/repeated_ptr_field.h>
#include <google/protobuf/timestamp.pb.h>

#include <string>
#include <string_view>
#include <vector>

#include "agent/containerd/types.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.pb.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.pb.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb.h"
#include "github.com/containerd/containerd/api/types/descriptor.pb.h"
#include "github.com/containerd/containerd/api/types/mount.pb.h"
#include "github.com/containerd/containerd/api/types/task/task.pb.h"

namespace zlayer::containerd {

// Any type URLs as containerd's typeurl package writes them: the runtime-spec
// types are registered by path (their value is JSON), proto messages by their
// bare full name. Never "type.googleapis.com/...": the daemon cannot resolve it.
inline constexpr const char* kSpecTypeUrl =
    "types.containerd.io/opencontainers/runtime-spec/1/Spec";
inline constexpr const char* kProcessTypeUrl =
    "types.containerd.io/opencontainers/runtime-spec/1/Process";

namespace pb {
using ProtoLabels = google::protobuf::Map<std::string, std::string>;
using ProtoMounts = google::protobuf::RepeatedPtrField<::containerd::types::Mount>;
}  // namespace pb

TimePoint FromProtoTime(const google::protobuf::Timestamp& timestamp);
void ToProtoTime(TimePoint time, google::protobuf::Timestamp* timestamp);

Labels FromProtoLabels(const pb::ProtoLabels& labels);
void ToProtoLabels(const Labels& labels, pb::ProtoLabels* out);

Descriptor FromProtoDescriptor(const ::containerd::types::Descriptor& descriptor);
void ToProtoDescriptor(const Descriptor& descriptor, ::containerd::types::Descriptor* out);

std::vector<Mount> FromProtoMounts(const pb::ProtoMounts& mounts);
void ToProtoMounts(const std::vector<Mount>& mounts, pb::ProtoMounts* out);

ImageRecord FromProtoImage(const ::containerd::services::images::v1::Image& image);
void ToProtoImage(const ImageRecord& image, ::containerd::services::images::v1::Image* out);

SnapshotInfo FromProtoSnapshotInfo(const ::containerd::services::snapshots::v1::Info& info);

ContainerRecord FromProtoContainer(const ::containerd::services::containers::v1::Container& c);
// Sets the spec as an Any of kSpecTypeUrl holding the JSON; leaves runtime
// options unset (the runtime's defaults apply).
void ToProtoContainer(const ContainerRecord& container,
                      ::containerd::services::containers::v1::Container* out);

TaskStatus FromProtoTaskStatus(::containerd::v1::types::Status status);

// Tasks.Get and Tasks.List leave `process.container_id` empty and put the
// container id in `process.id` for the init process; `container_id` (the one
// asked for, or empty for List) fills the gap.
TaskInfo FromProtoProcess(const ::containerd::v1::types::Process& process,
                          std::string_view container_id);

// Flattens an event envelope. Known payloads (containerd.events.Task*,
// Container*) fill container_id/exec_id/pid/exit_status/exited_at; others give
// just topic, namespace and timestamp.
Event FromEnvelope(const ::containerd::services::events::v1::Envelope& envelope);

}  // namespace zlayer::containerd
