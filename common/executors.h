// Where the agent's work runs: one event loop that owns all state, and one
// bounded pool per kind of blocking work, so that one kind can never hold up
// another (a slow pull never delays a create, a large log read never delays a
// store write).
//
//   loop       the io_context thread: all state, all decisions, timers. Never
//              blocks (no containerd call, file I/O, sleep or wait).
//   lifecycle  short containerd calls of the replica lifecycle: observe,
//              create, start, signal, delete. Stops do not wait here: the
//              reconciler ends them from containerd's exit event and a grace
//              timer on the loop.
//   images     pulls, imports, unpacking and image removal: calls that may take
//              minutes.
//   files      file-system work: store writes, log reads, FIFOs, state
//              directories, parsing of stored specs, the children file.
//   queries    read-only containerd calls answering requests (inspect, image
//              lists, health), so that requests answer while lifecycle work is
//              queued.
//
// RunOff is the one way work leaves the loop: `work` runs on `pool`, and
// `done` gets its result back on `loop`. Until `done` is posted the loop counts
// the work as its own, so `loop.run()` returns only once every result is back
// (tests settle on that instead of sleeping).
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <type_traits>
#include <utility>

namespace zlayer {

struct Executors {
  boost::asio::io_context& loop;
  boost::asio::thread_pool& lifecycle;
  boost::asio::thread_pool& images;
  boost::asio::thread_pool& files;
  boost::asio::thread_pool& queries;
};

// Runs `work()` on `pool`, then `done(result)` on `loop` (or `done()` when
// `work` returns void). Both are moved; neither may throw.
template <typename Pool, typename Work, typename Done>
void RunOff(Pool& pool, boost::asio::io_context& loop, Work work, Done done) {
  boost::asio::post(pool, [&loop, work = std::move(work), done = std::move(done),
                           pending = boost::asio::make_work_guard(loop)]() mutable {
    if constexpr (std::is_void_v<std::invoke_result_t<Work&>>) {
      work();
      boost::asio::post(loop, std::move(done));
    } else {
      boost::asio::post(
          loop, [result = work(), done = std::move(done)]() mutable { done(std::move(result)); });
    }
  });
}

}  // namespace zlayer
