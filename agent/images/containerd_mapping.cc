#include "agent/images/containerd_mapping.h"

#include <string>

namespace zlayer::images {

containerd::Descriptor ToContainerd(const oci::Descriptor& d) {
  return containerd::Descriptor{d.media_type, d.digest, d.size, d.annotations};
}

oci::Descriptor ToOci(const containerd::Descriptor& d) {
  return oci::Descriptor{d.media_type, d.digest, d.size, d.annotations, std::nullopt};
}

containerd::Labels ChildGcLabels(const oci::Index& index) {
  containerd::Labels labels;
  for (size_t i = 0; i < index.manifests.size(); ++i) {
    labels[containerd::kLabelGcRefContentManifestPrefix + std::to_string(i)] =
        index.manifests[i].digest;
  }
  return labels;
}

containerd::Labels ChildGcLabels(const oci::Manifest& manifest) {
  containerd::Labels labels;
  labels[containerd::kLabelGcRefContentConfig] = manifest.config.digest;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    labels[containerd::kLabelGcRefContentLayerPrefix + std::to_string(i)] =
        manifest.layers[i].digest;
  }
  return labels;
}

}  // namespace zlayer::images
