// Where the OCI model (agent/oci) meets containerd's API types: descriptors converted both
// ways, and the garbage-collection labels containerd's client puts on a parent blob for its
// children (containerd-client-notes.md §5 step 5). The one place in images/ that knows both.
//
// Thread safety: pure functions.
#pragma once

#include "agent/containerd/types.h"
#include "agent/oci/descriptor.h"
#include "agent/oci/manifest.h"

namespace zlayer::images {

// Media type, digest, size and annotations; containerd's descriptor has no platform, so
// ToContainerd drops it and ToOci leaves it unset.
containerd::Descriptor ToContainerd(const oci::Descriptor& descriptor);
oci::Descriptor ToOci(const containerd::Descriptor& descriptor);

// The labels containerd's client sets on a parent blob (images.ChildGCLabels):
// for an index, containerd.io/gc.ref.content.m.<i> per manifest; for a
// manifest, ...content.config and ...content.l.<i> per layer. `<i>` counts in
// document order.
containerd::Labels ChildGcLabels(const oci::Index& index);
containerd::Labels ChildGcLabels(const oci::Manifest& manifest);

}  // namespace zlayer::images
