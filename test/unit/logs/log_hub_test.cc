#include "agent/logs/log_hub.h"

#include <catch2/catch.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace zlayer::agent::logs;

namespace {
LogRecord Line(std::string text) { return LogRecord{Stream::kStdout, {}, std::move(text)}; }
// A hub callback that calls `f` for each record of a batch.
LogHub::Callback Each(std::function<void(const RecordView&)> f) {
  return [f = std::move(f)](std::span<const RecordView> batch) {
    for (const RecordView& r : batch) f(r);
  };
}
}  // namespace

TEST_CASE("A follower receives the records published for its container only") {
  LogHub hub;
  std::vector<std::string> got;
  auto sub = hub.Subscribe("web-0", Each([&](const RecordView& r) { got.emplace_back(r.text); }));
  hub.Publish("web-0", Line("a\n"));
  hub.Publish("web-1", Line("other\n"));
  hub.Publish("web-0", Line("b\n"));
  CHECK(got == std::vector<std::string>{"a\n", "b\n"});
}

TEST_CASE("Several followers of one container each get every record, in subscription order") {
  LogHub hub;
  std::vector<std::string> got;
  auto first = hub.Subscribe(
      "c", Each([&](const RecordView& r) { got.push_back("1:" + std::string(r.text)); }));
  auto second = hub.Subscribe(
      "c", Each([&](const RecordView& r) { got.push_back("2:" + std::string(r.text)); }));
  hub.Publish("c", Line("x"));
  CHECK(got == std::vector<std::string>{"1:x", "2:x"});
  CHECK(hub.SubscriberCount("c") == 2);
}

TEST_CASE("Destroying or resetting a subscription unsubscribes") {
  LogHub hub;
  int calls = 0;
  {
    auto sub = hub.Subscribe("c", [&](std::span<const RecordView>) { ++calls; });
    CHECK(sub.active());
    hub.Publish("c", Line("x"));
  }
  hub.Publish("c", Line("y"));
  CHECK(calls == 1);
  CHECK(hub.SubscriberCount("c") == 0);

  auto sub = hub.Subscribe("c", [&](std::span<const RecordView>) { ++calls; });
  sub.Reset();
  CHECK_FALSE(sub.active());
  hub.Publish("c", Line("z"));
  CHECK(calls == 1);
}

TEST_CASE("A moved subscription stays subscribed exactly once") {
  LogHub hub;
  int calls = 0;
  LogHub::Subscription kept;
  {
    auto sub = hub.Subscribe("c", [&](std::span<const RecordView>) { ++calls; });
    kept = std::move(sub);
  }
  hub.Publish("c", Line("x"));
  CHECK(calls == 1);
  CHECK(hub.SubscriberCount("c") == 1);
}

TEST_CASE("A follower may unsubscribe itself and others while being called") {
  LogHub hub;
  std::vector<std::string> got;
  std::optional<LogHub::Subscription> first, second, third;
  first = hub.Subscribe("c", Each([&](const RecordView& r) {
                          got.push_back("1:" + std::string(r.text));
                          first.reset();  // itself, as a Logs stream does when its client goes away
                          second.reset();  // and a later one, which then must not be called
                        }));
  second = hub.Subscribe(
      "c", Each([&](const RecordView& r) { got.push_back("2:" + std::string(r.text)); }));
  third = hub.Subscribe(
      "c", Each([&](const RecordView& r) { got.push_back("3:" + std::string(r.text)); }));
  hub.Publish("c", Line("x"));
  hub.Publish("c", Line("y"));
  CHECK(got == std::vector<std::string>{"1:x", "3:x", "3:y"});
}

TEST_CASE("A follower added during a publish starts with the next record") {
  LogHub hub;
  std::vector<std::string> got;
  std::optional<LogHub::Subscription> late;
  auto sub = hub.Subscribe("c", [&](std::span<const RecordView>) {
    if (!late)
      late = hub.Subscribe("c", Each([&](const RecordView& r) { got.emplace_back(r.text); }));
  });
  hub.Publish("c", Line("x"));
  hub.Publish("c", Line("y"));
  CHECK(got == std::vector<std::string>{"y"});
}

TEST_CASE("A subscription that outlives its hub is harmless") {
  LogHub::Subscription sub;
  {
    LogHub hub;
    sub = hub.Subscribe("c", [](std::span<const RecordView>) {});
  }
  CHECK_FALSE(sub.active());
  sub.Reset();
}

TEST_CASE("A batch reaches each follower in one call") {
  LogHub hub;
  std::vector<size_t> sizes;
  auto sub =
      hub.Subscribe("c", [&](std::span<const RecordView> batch) { sizes.push_back(batch.size()); });
  std::vector<RecordView> batch{{Stream::kStdout, {}, "a\n"}, {Stream::kStderr, {}, "b\n"}};
  hub.Publish("c", batch);
  CHECK(sizes == std::vector<size_t>{2});
}
