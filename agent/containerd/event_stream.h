// Private to zlayer_containerd: Events.Subscribe on a thread of its own.
#pragma once

#include <grpcpp/channel.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/containerd/client.h"

namespace zlayer::containerd {

// Topic of the marker event a new subscription publishes to itself; it is
// consumed by the subscription and never handed to `on_event`.
inline constexpr const char* kSubscribedTopic = "/zlayer/subscribed";

// Subscribes to containerd's events as Client::SubscribeEvents promises.
// containerd's stream spans all namespaces, so `namespace=="<ns>"` is added to
// each filter and envelopes of other namespaces are dropped as well.
//
// containerd does not acknowledge a subscription, so this publishes a marker
// event (topic kSubscribedTopic) until it comes back through the stream, and
// returns once it has (the subscription is live: every event published from
// then on is delivered), once the stream has ended (on_end has been or is being
// called), or after `ready_timeout`.
std::unique_ptr<EventSubscription> StartEventSubscription(
    std::shared_ptr<grpc::Channel> channel, const std::string& namespace_name,
    std::chrono::milliseconds ready_timeout, const std::vector<std::string>& filters,
    std::function<void(const Event&)> on_event, std::function<void(const Status&)> on_end);

// The filter strings sent to containerd: each of `filters` with
// `namespace=="<ns>"` appended (or just that when `filters` is empty), plus one
// that lets the subscription's own marker event through.
std::vector<std::string> NamespacedEventFilters(const std::vector<std::string>& filters,
                                                const std::string& namespace_name);

}  // namespace zlayer::containerd
