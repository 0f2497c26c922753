// ManualPool: an executor whose jobs wait until the test runs them, in the order the
// test picks (RunNewest: newest first, as the threads of a real pool may happen to).
// It makes races between jobs posted to a pool deterministic. Converts to
// boost::asio::any_io_executor (get_executor()), and strands over it work.
//
// Thread safety: none; post and run on the test's thread.
#pragma once

#include <boost/asio/execution.hpp>
#include <boost/asio/execution_context.hpp>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <utility>

namespace zlayer::testing {

class ManualPool : public boost::asio::execution_context {
 public:
  class executor_type {
   public:
    explicit executor_type(ManualPool& pool) : pool_(&pool) {}

    boost::asio::execution_context& query(boost::asio::execution::context_t) const noexcept {
      return *pool_;
    }
    static constexpr boost::asio::execution::blocking_t::never_t query(
        boost::asio::execution::blocking_t) noexcept {
      return {};
    }
    executor_type require(boost::asio::execution::blocking_t::never_t) const { return *this; }

    template <typename Job>
    void execute(Job job) const {
      // Asio's jobs may be move-only; std::function needs a copyable callable.
      auto shared = std::make_shared<Job>(std::move(job));
      pool_->jobs_.push_back([shared] { (*shared)(); });
    }

    friend bool operator==(const executor_type& a, const executor_type& b) noexcept {
      return a.pool_ == b.pool_;
    }
    friend bool operator!=(const executor_type& a, const executor_type& b) noexcept {
      return !(a == b);
    }

   private:
    ManualPool* pool_;
  };

  executor_type get_executor() { return executor_type(*this); }

  size_t pending() const { return jobs_.size(); }
  // Runs the job posted last. Returns false when none is waiting.
  bool RunNewest() {
    if (jobs_.empty()) return false;
    std::function<void()> job = std::move(jobs_.back());
    jobs_.pop_back();
    job();
    return true;
  }

 private:
  std::deque<std::function<void()>> jobs_;
};

}  // namespace zlayer::testing
