#include "agent/containerd/event_stream.h"

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "agent/containerd/grpc_call.h"
#include "agent/containerd/proto_conversions.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.grpc.pb.h"

namespace zlayer::containerd {

namespace {

namespace events_v1 = ::containerd::services::events::v1;

// Type URL of the marker's (empty) payload; containerd passes an Any it does
// not know through unchanged.
constexpr const char* kSubscribedTypeUrl = "zlayer.events.Subscribed";

// What the subscription thread and its owner share. Kept in a shared_ptr so a
// thread detached by a Cancel from inside a callback never outlives it.
struct SubscriptionState {
  grpc::ClientContext context;
  std::atomic<bool> cancelled{false};

  std::mutex mutex;  // guards `ready` and `ended`
  std::condition_variable changed;
  bool ready = false;  // the marker came back: the server-side subscription is live
  bool ended = false;  // the stream is over
};

void SetFlag(SubscriptionState& state, bool SubscriptionState::*flag) {
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.*flag = true;
  }
  state.changed.notify_all();
}

bool IsMarker(const events_v1::Envelope& envelope) {
  return envelope.topic() == kSubscribedTopic && envelope.event().type_url() == kSubscribedTypeUrl;
}

void ReadEvents(std::shared_ptr<SubscriptionState> state, std::shared_ptr<grpc::Channel> channel,
                events_v1::SubscribeRequest request, std::string namespace_name,
                std::function<void(const Event&)> on_event,
                std::function<void(const Status&)> on_end) {
  auto stub = events_v1::Events::NewStub(channel);
  std::unique_ptr<grpc::ClientReader<events_v1::Envelope>> reader =
      stub->Subscribe(&state->context, request);
  events_v1::Envelope envelope;
  while (reader->Read(&envelope)) {
    if (state->cancelled) continue;  // drain until the cancellation lands
    if (envelope.namespace_() != namespace_name) continue;
    if (IsMarker(envelope)) {
      SetFlag(*state, &SubscriptionState::ready);
      continue;
    }
    on_event(FromEnvelope(envelope));
  }
  const grpc::Status finished = reader->Finish();
  SetFlag(*state, &SubscriptionState::ended);
  if (state->cancelled) {
    on_end(Status::Ok());
  } else if (finished.ok()) {
    on_end(UnavailableError("events.subscribe: containerd ended the event stream"));
  } else {
    on_end(FromGrpcStatus(finished, "events.subscribe", ""));
  }
}

class GrpcEventSubscription : public EventSubscription {
 public:
  GrpcEventSubscription(std::shared_ptr<SubscriptionState> state, std::thread thread)
      : state_(std::move(state)), thread_(std::move(thread)) {}
  ~GrpcEventSubscription() override { Cancel(); }

  void Cancel() override {
    state_->cancelled = true;
    state_->context.TryCancel();
    std::lock_guard<std::mutex> lock(join_mutex_);
    if (!thread_.joinable()) return;
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // called from a callback: the thread ends on its own
    } else {
      thread_.join();
    }
  }

 private:
  std::shared_ptr<SubscriptionState> state_;
  std::mutex join_mutex_;  // guards thread_ against concurrent Cancel calls
  std::thread thread_;
};

// Publishes the marker (retrying, since a marker sent before the server has
// registered the subscription is lost) until it comes back, the stream ends,
// or `timeout` passes.
void AwaitSubscribed(SubscriptionState& state, const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& namespace_name, std::chrono::milliseconds timeout) {
  auto stub = events_v1::Events::NewStub(channel);
  const auto give_up_at = std::chrono::steady_clock::now() + timeout;
  auto wait = std::chrono::milliseconds(5);
  for (;;) {
    grpc::ClientContext context;
    PrepareContext(context, namespace_name, {timeout, ""});
    events_v1::PublishRequest request;
    request.set_topic(kSubscribedTopic);
    request.mutable_event()->set_type_url(kSubscribedTypeUrl);
    google::protobuf::Empty empty;
    (void)stub->Publish(&context, request, &empty);  // a failure shows as the stream ending

    std::unique_lock<std::mutex> lock(state.mutex);
    const auto until = std::min(give_up_at, std::chrono::steady_clock::now() + wait);
    if (state.changed.wait_until(lock, until, [&] { return state.ready || state.ended; })) return;
    if (std::chrono::steady_clock::now() >= give_up_at) return;
    wait = std::min(wait * 2, std::chrono::milliseconds(500));
  }
}

}  // namespace

std::vector<std::string> NamespacedEventFilters(const std::vector<std::string>& filters,
                                                const std::string& namespace_name) {
  const std::string in_namespace = fmt::format("namespace==\"{}\"", namespace_name);
  std::vector<std::string> result;
  for (const auto& filter : filters) result.push_back(fmt::format("{},{}", filter, in_namespace));
  if (filters.empty()) {
    result.push_back(in_namespace);
  } else {
    result.push_back(fmt::format("topic==\"{}\",{}", kSubscribedTopic, in_namespace));
  }
  return result;
}

std::unique_ptr<EventSubscription> StartEventSubscription(
    std::shared_ptr<grpc::Channel> channel, const std::string& namespace_name,
    std::chrono::milliseconds ready_timeout, const std::vector<std::string>& filters,
    std::function<void(const Event&)> on_event, std::function<void(const Status&)> on_end) {
  auto state = std::make_shared<SubscriptionState>();
  PrepareContext(state->context, namespace_name, {std::nullopt, ""});  // a stream has no deadline
  events_v1::SubscribeRequest request;
  for (auto& filter : NamespacedEventFilters(filters, namespace_name)) {
    request.add_filters(std::move(filter));
  }
  std::thread thread(ReadEvents, state, channel, std::move(request), namespace_name,
                     std::move(on_event), std::move(on_end));
  AwaitSubscribed(*state, channel, namespace_name, ready_timeout);
  return std::make_unique<GrpcEventSubscription>(std::move(state), std::move(thread));
}

}  // namespace zlayer::containerd
