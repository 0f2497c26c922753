#include "common/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

namespace {

// A pipe whose write end is non-blocking, as a full log pipe looks to the
// agent.
struct NonBlockingPipe {
  NonBlockingPipe() {
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    REQUIRE(::fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0);
  }
  ~NonBlockingPipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  // Everything in the pipe now.
  std::string Drain() {
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
      out.append(buf, static_cast<size_t>(n));
    return out;
  }
  int fds[2];
};

}  // namespace

TEST_CASE("A logger writes one whole prefixed line per message") {
  NonBlockingPipe pipe;
  zlayer::Logger logger("zlayer-agent", zlayer::LogLevel::kInfo, pipe.fds[1]);
  logger.Info("hello {}", 42);
  logger.Debug("filtered");
  CHECK(pipe.Drain() == "zlayer-agent: info: hello 42\n");
}

TEST_CASE(
    "A logger whose reader stopped never waits: lines wait in a bounded backlog, "
    "then are dropped whole and the drop is reported") {
  NonBlockingPipe pipe;
  zlayer::Logger logger("agent", zlayer::LogLevel::kInfo, pipe.fds[1]);
  const std::string text(1000, 'x');
  // Far more than the pipe (64 KiB) and the backlog (64 KiB) hold: returns.
  for (int i = 0; i < 1000; ++i) logger.Info("{} {}", i, text);
  CHECK(logger.dropped() > 0);

  std::string seen = pipe.Drain();
  logger.Info("after");  // the reader is back: the backlog, the report, this line
  seen += pipe.Drain();
  CHECK(logger.dropped() == 0);
  // Only whole lines, in order, and the last ones say what happened.
  size_t start = 0;
  int last = -1;
  while (start < seen.size()) {
    size_t end = seen.find('\n', start);
    REQUIRE(end != std::string::npos);
    std::string line = seen.substr(start, end - start);
    start = end + 1;
    if (line.find(text) != std::string::npos) {
      int n = std::stoi(line.substr(13));
      CHECK(n > last);
      CHECK(line == "agent: info: " + std::to_string(n) + " " + text);
      last = n;
    }
  }
  CHECK_THAT(seen, Catch::Contains("log lines dropped"));
  CHECK_THAT(seen, Catch::EndsWith("agent: info: after\n"));
}
