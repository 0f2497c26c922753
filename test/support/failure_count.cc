#include "test/support/failure_count.h"

#include <atomic>

// Listeners are part of Catch's "external interfaces", off by default.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

namespace zlayer::testing {
namespace {

std::atomic<std::uint64_t>& Counter() {
  static std::atomic<std::uint64_t> counter{0};
  return counter;
}

// Registered with Catch below; counts every assertion that did not pass.
class FailureCounter : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;
  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk()) ++Counter();
    return true;
  }
};

CATCH_REGISTER_LISTENER(FailureCounter)

}  // namespace

std::uint64_t FailedAssertionCount() { return Counter().load(); }

}  // namespace zlayer::testing
