#include "agent/reconcile/stop_signal.h"

#include <catch2/catch.hpp>
#include <csignal>

using namespace zlayer;
using namespace zlayer::reconcile;

TEST_CASE("The stop signal is the service's, else the image's, else SIGTERM") {
  struct Case {
    std::optional<int> service;
    std::optional<int> image;
    int expected;
  };
  const Case cases[] = {
      {SIGINT, SIGQUIT, SIGINT},
      {SIGINT, std::nullopt, SIGINT},
      {std::nullopt, SIGQUIT, SIGQUIT},
      {std::nullopt, std::nullopt, SIGTERM},
  };
  for (const Case& c : cases) {
    CAPTURE(c.service, c.image);
    CHECK(StopSignal(c.service, c.image) == c.expected);
  }
}

TEST_CASE("A replica of a service no longer in the spec stops with its image's signal") {
  CHECK(StopSignal(nullptr, SIGQUIT) == SIGQUIT);
  CHECK(StopSignal(nullptr, std::nullopt) == SIGTERM);
  spec::Service service;
  CHECK(StopSignal(&service, SIGUSR1) == SIGUSR1);
  service.stop_signal = SIGHUP;
  CHECK(StopSignal(&service, SIGUSR1) == SIGHUP);
}

TEST_CASE("An image's STOPSIGNAL is read as Docker writes it, and nonsense means none") {
  CHECK(ParseImageStopSignal("SIGQUIT") == SIGQUIT);
  CHECK(ParseImageStopSignal("QUIT") == SIGQUIT);
  CHECK(ParseImageStopSignal("3") == SIGQUIT);
  CHECK(ParseImageStopSignal("") == std::nullopt);
  CHECK(ParseImageStopSignal("SIGNOPE") == std::nullopt);
}
