// Fan-out of new log records to live readers (the Logs RPC with follow).
//
// A reader subscribes to one container and receives every record published
// for it afterwards, until its Subscription is destroyed. To follow without a
// gap or a duplicate, subscribe and read the backlog (ReadLogs) in the same
// turn of the agent's loop: records are appended and published on that loop,
// so none can slip in between.
//
// Thread safety: none. The hub, its subscriptions and the callbacks live on
// the agent's io_context thread only; a gRPC reaction posts there to
// subscribe. A callback may subscribe or unsubscribe (itself included) while
// being called; a subscriber added during a publish does not get that record.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "agent/logs/log_record.h"

namespace zlayer::agent::logs {

class LogHub {
 public:
  // Gets the records of one batch (see LogSink::WriteBatch), in order; the
  // views are valid only during the call.
  using Callback = std::function<void(std::span<const RecordView>)>;

  // Unsubscribes when destroyed or reset. Move-only. May outlive the hub
  // (then it does nothing).
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& other) noexcept;
    Subscription& operator=(Subscription&& other) noexcept;
    ~Subscription();

    void Reset();
    bool active() const;

   private:
    friend class LogHub;
    struct Registry;
    Subscription(std::weak_ptr<Registry> registry, std::string container_id, uint64_t id)
        : registry_(std::move(registry)), container_id_(std::move(container_id)), id_(id) {}
    std::weak_ptr<Registry> registry_;
    std::string container_id_;
    uint64_t id_ = 0;
  };

  LogHub();
  LogHub(const LogHub&) = delete;
  LogHub& operator=(const LogHub&) = delete;

  // `callback` gets each batch of records later published for `container_id`.
  [[nodiscard]] Subscription Subscribe(std::string container_id, Callback callback);

  // Calls every current subscriber of `container_id`, in subscription order.
  // Without subscribers this is one map lookup: the drains call it per batch.
  void Publish(std::string_view container_id, std::span<const RecordView> records);
  // One record, as a batch of one.
  void Publish(std::string_view container_id, const LogRecord& record);

  size_t SubscriberCount(std::string_view container_id) const;

 private:
  std::shared_ptr<Subscription::Registry> registry_;
};

}  // namespace zlayer::agent::logs
