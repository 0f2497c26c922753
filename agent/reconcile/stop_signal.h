// The signal that asks a replica to stop: one rule, used wherever a replica is
// stopped (restart of an unhealthy replica, scale-down, deletion, rollout,
// node stop), recorded on its container at create, and shown by `zlayer inspect`.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "agent/spec/model.h"

namespace zlayer::reconcile {

// The service's `stop_signal` when it names one, else the image's STOPSIGNAL
// when it names one, else SIGTERM (Docker's and containerd's order).
int StopSignal(std::optional<int> service_signal, std::optional<int> image_signal);

// StopSignal for a replica of `service` (nullptr: a service no longer in the
// spec, whose replica still stops with its image's signal).
int StopSignal(const spec::Service* service, std::optional<int> image_signal);

// An image config's STOPSIGNAL as written ("SIGQUIT", "QUIT", "3") as a signal
// number; nullopt when `text` is empty or names no signal (then SIGTERM applies).
std::optional<int> ParseImageStopSignal(std::string_view text);

}  // namespace zlayer::reconcile
