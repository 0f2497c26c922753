#include "agent/logs/log_hub.h"

#include <utility>
#include <vector>

namespace zlayer::agent::logs {

struct LogHub::Subscription::Registry {
  uint64_t next_id = 1;
  // container id -> subscription id -> callback. Callbacks are shared so that
  // a publish can hold one while it unsubscribes itself.
  std::map<std::string, std::map<uint64_t, std::shared_ptr<Callback>>, std::less<>> containers;

  void Remove(const std::string& container_id, uint64_t id) {
    auto it = containers.find(container_id);
    if (it == containers.end()) return;
    it->second.erase(id);
    if (it->second.empty()) containers.erase(it);
  }
};

LogHub::Subscription::Subscription(Subscription&& other) noexcept
    : registry_(std::move(other.registry_)),
      container_id_(std::move(other.container_id_)),
      id_(std::exchange(other.id_, 0)) {}

LogHub::Subscription& LogHub::Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Reset();
    registry_ = std::move(other.registry_);
    container_id_ = std::move(other.container_id_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

LogHub::Subscription::~Subscription() { Reset(); }

void LogHub::Subscription::Reset() {
  if (id_ == 0) return;
  if (auto registry = registry_.lock()) registry->Remove(container_id_, id_);
  registry_.reset();
  id_ = 0;
}

bool LogHub::Subscription::active() const { return id_ != 0 && !registry_.expired(); }

LogHub::LogHub() : registry_(std::make_shared<Subscription::Registry>()) {}

LogHub::Subscription LogHub::Subscribe(std::string container_id, Callback callback) {
  uint64_t id = registry_->next_id++;
  registry_->containers[container_id].emplace(id, std::make_shared<Callback>(std::move(callback)));
  return Subscription(registry_, std::move(container_id), id);
}

void LogHub::Publish(std::string_view container_id, const LogRecord& record) {
  RecordView view{record.stream, record.time, record.text};
  Publish(container_id, std::span<const RecordView>(&view, 1));
}

void LogHub::Publish(std::string_view container_id, std::span<const RecordView> records) {
  auto it = registry_->containers.find(container_id);
  if (it == registry_->containers.end()) return;
  // A callback may change the subscriber list: call a snapshot, skipping
  // those that unsubscribed in the meantime.
  std::vector<std::pair<uint64_t, std::shared_ptr<Callback>>> snapshot(it->second.begin(),
                                                                       it->second.end());
  std::string id(container_id);
  for (auto& [sub_id, callback] : snapshot) {
    auto current = registry_->containers.find(id);
    if (current == registry_->containers.end()) return;
    if (current->second.count(sub_id) == 0) continue;
    (*callback)(records);
  }
}

size_t LogHub::SubscriberCount(std::string_view container_id) const {
  auto it = registry_->containers.find(container_id);
  return it == registry_->containers.end() ? 0 : it->second.size();
}

}  // namespace zlayer::agent::logs
