#include "agent/runtime/container_labels.h"

#include <catch2/catch.hpp>
#include <csignal>

using zlayer::oci::ImageConfig;
using zlayer::runtime::ContainerLabels;
using zlayer::runtime::StopSignal;
using zlayer::spec::Service;

namespace {
Service Web() {
  Service service;
  service.name = "web";
  return service;
}
}  // namespace

TEST_CASE("Every container is labelled with its deployment, service, replica and spec hash") {
  auto labels = ContainerLabels("hello", Web(), 2, "abc123", ImageConfig{});
  CHECK(labels == zlayer::containerd::Labels{
                      {"zlayer.deployment", "hello"},
                      {"zlayer.service", "web"},
                      {"zlayer.replica", "2"},
                      {"zlayer.spec-hash", "abc123"},
                      {"io.containerd.image.config.stop-signal", "SIGTERM"},
                  });
}

TEST_CASE("The service's labels are kept but cannot overwrite zlayer's own") {
  Service service = Web();
  service.labels = {{"team", "edge"}, {"zlayer.service", "spoofed"}};
  auto labels = ContainerLabels("hello", service, 0, "h", ImageConfig{});
  CHECK(labels.at("team") == "edge");
  CHECK(labels.at("zlayer.service") == "web");
}

TEST_CASE("The stop signal is the service's, else the image's, else SIGTERM") {
  struct Case {
    std::optional<int> service;
    std::string image;
    int want;
    const char* label;
  };
  const Case cases[] = {
      {std::nullopt, "", SIGTERM, "SIGTERM"},
      {std::nullopt, "SIGQUIT", SIGQUIT, "SIGQUIT"},
      {std::nullopt, "9", SIGKILL, "SIGKILL"},
      {std::nullopt, "SIGRTMIN+3", 35, "SIGRTMIN+3"},
      {std::nullopt, "NOT-A-SIGNAL", SIGTERM, "SIGTERM"},
      {SIGINT, "SIGQUIT", SIGINT, "SIGINT"},
  };
  for (const Case& c : cases) {
    INFO(c.label);
    Service service = Web();
    service.stop_signal = c.service;
    ImageConfig image;
    image.stop_signal = c.image;
    CHECK(StopSignal(service, image) == c.want);
    CHECK(
        ContainerLabels("d", service, 0, "h", image).at("io.containerd.image.config.stop-signal") ==
        c.label);
  }
}
