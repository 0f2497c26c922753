#include "supervisor/containerd_config.h"

#include <catch2/catch.hpp>

using zlayer::NodeConfig;
using zlayer::init::RenderContainerdConfig;

TEST_CASE("containerd's config carries the node's socket, root and state directories") {
  NodeConfig config;
  config.containerd_socket = "/tmp/zl-1/containerd.sock";
  config.containerd_root = "/tmp/zl-1/root";
  config.containerd_state = "/tmp/zl-1/state";
  std::string toml = RenderContainerdConfig(config, "overlayfs");
  CHECK_THAT(toml, Catch::Contains("version = 2"));
  CHECK_THAT(toml, Catch::Contains("root = \"/tmp/zl-1/root\""));
  CHECK_THAT(toml, Catch::Contains("state = \"/tmp/zl-1/state\""));
  CHECK_THAT(toml, Catch::Contains("address = \"/tmp/zl-1/containerd.sock\""));
  CHECK_THAT(toml, Catch::Contains("address = \"/tmp/zl-1/containerd.sock.ttrpc\""));
  CHECK_THAT(toml, Catch::Contains("path = \"/tmp/zl-1/root/opt\""));
}

TEST_CASE("The CRI plugin is disabled: the agent is containerd's only client") {
  std::string toml = RenderContainerdConfig(NodeConfig{}, "overlayfs");
  CHECK_THAT(toml, Catch::Contains("\"io.containerd.grpc.v1.cri\""));
}

TEST_CASE("Unused snapshotters are disabled, but never the one the node uses") {
  std::string overlay = RenderContainerdConfig(NodeConfig{}, "overlayfs");
  CHECK_THAT(overlay, Catch::Contains("\"io.containerd.snapshotter.v1.btrfs\""));
  CHECK_THAT(overlay, !Catch::Contains("\"io.containerd.snapshotter.v1.overlayfs\""));
  std::string btrfs = RenderContainerdConfig(NodeConfig{}, "btrfs");
  CHECK_THAT(btrfs, !Catch::Contains("\"io.containerd.snapshotter.v1.btrfs\""));
}

TEST_CASE("Quotes and backslashes in paths are escaped for TOML") {
  NodeConfig config;
  config.containerd_root = "/tmp/a\"b\\c";
  CHECK_THAT(RenderContainerdConfig(config, "native"),
             Catch::Contains("root = \"/tmp/a\\\"b\\\\c\""));
}

TEST_CASE("containerd logs at the node's log level") {
  NodeConfig config;
  config.log_level = zlayer::LogLevel::kDebug;
  CHECK_THAT(RenderContainerdConfig(config, "native"), Catch::Contains("level = \"debug\""));
}
