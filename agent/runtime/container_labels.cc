#include "agent/runtime/container_labels.h"

#include "agent/reconcile/stop_signal.h"
#include "agent/spec/kernel_names.h"
#include "agent/spec/naming.h"

namespace zlayer::runtime {

int StopSignal(const spec::Service& service, const oci::ImageConfig& image) {
  return reconcile::StopSignal(&service, reconcile::ParseImageStopSignal(image.stop_signal));
}

containerd::Labels ContainerLabels(std::string_view deployment, const spec::Service& service,
                                   uint32_t replica_index, std::string_view spec_hash,
                                   const oci::ImageConfig& image) {
  containerd::Labels labels(service.labels.begin(), service.labels.end());
  labels[spec::kLabelDeployment] = std::string(deployment);
  labels[spec::kLabelService] = service.name;
  labels[spec::kLabelReplica] = std::to_string(replica_index);
  labels[spec::kLabelSpecHash] = std::string(spec_hash);
  labels[containerd::kLabelStopSignal] = spec::SignalName(StopSignal(service, image));
  return labels;
}

}  // namespace zlayer::runtime
