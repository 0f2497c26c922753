// The labels every zlayer container carries in containerd, so that the agent finds its own
// containers after a restart and `ctr -n zlayer containers ls` tells a human what each is.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/containerd/types.h"
#include "agent/oci/image_config.h"
#include "agent/spec/model.h"

namespace zlayer::runtime {

// The signal that asks a replica to stop: reconcile::StopSignal's rule (the service's
// `stop_signal`, else the image's STOPSIGNAL when it names a signal, else SIGTERM).
int StopSignal(const spec::Service& service, const oci::ImageConfig& image);

// The service's own `labels`, then (overriding any of the same key) the four zlayer.* labels
// (spec/naming.h) and containerd's `io.containerd.image.config.stop-signal` with StopSignal's name
// ("SIGTERM", "SIGRTMIN+3"), the label containerd's tools read to stop a container.
// `spec_hash` is spec::ServiceHash(service).
containerd::Labels ContainerLabels(std::string_view deployment, const spec::Service& service,
                                   uint32_t replica_index, std::string_view spec_hash,
                                   const oci::ImageConfig& image);

}  // namespace zlayer::runtime
