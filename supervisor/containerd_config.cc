#include "supervisor/containerd_config.h"

#include <fmt/format.h>

#include <string_view>

namespace zlayer::init {
namespace {

// TOML basic strings: escape backslash and quote.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string_view ContainerdLogLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

}  // namespace

std::string RenderContainerdConfig(const NodeConfig& config, const std::string& snapshotter) {
  // Snapshotters the node does not use; loading them only costs start-up time
  // and logs errors on hosts without btrfs, zfs or devicemapper.
  std::string disabled = Quote("io.containerd.grpc.v1.cri");
  for (std::string_view name : {"aufs", "btrfs", "devmapper", "zfs"}) {
    if (snapshotter != name) {
      disabled += ", " + Quote(fmt::format("io.containerd.snapshotter.v1.{}", name));
    }
  }
  return fmt::format(
      R"(# Written by zlayer-init from the node's environment; changes are overwritten at start.
# Snapshotter ({snapshotter}) and runtime ({runtime}) are chosen per container by
# zlayer-agent, which also records them as the namespace defaults for ctr.
version = 2
root = {root}
state = {state}
disabled_plugins = [{disabled}]

[grpc]
  address = {socket}

[ttrpc]
  address = {ttrpc}

[debug]
  level = {level}

[plugins."io.containerd.internal.v1.opt"]
  path = {opt}
)",
      fmt::arg("snapshotter", snapshotter), fmt::arg("runtime", config.runtime),
      fmt::arg("root", Quote(config.containerd_root)),
      fmt::arg("state", Quote(config.containerd_state)), fmt::arg("disabled", disabled),
      fmt::arg("socket", Quote(config.containerd_socket)),
      fmt::arg("ttrpc", Quote(config.containerd_socket + ".ttrpc")),
      fmt::arg("level", Quote(ContainerdLogLevel(config.log_level))),
      fmt::arg("opt", Quote(config.containerd_root + "/opt")));
}

}  // namespace zlayer::init
