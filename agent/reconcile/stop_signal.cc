#include "agent/reconcile/stop_signal.h"

#include <csignal>

#include "agent/spec/kernel_names.h"

namespace zlayer::reconcile {

int StopSignal(std::optional<int> service_signal, std::optional<int> image_signal) {
  if (service_signal) return *service_signal;
  if (image_signal) return *image_signal;
  return SIGTERM;
}

int StopSignal(const spec::Service* service, std::optional<int> image_signal) {
  return StopSignal(service != nullptr ? service->stop_signal : std::nullopt, image_signal);
}

std::optional<int> ParseImageStopSignal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  return spec::ParseSignal(text);
}

}  // namespace zlayer::reconcile
