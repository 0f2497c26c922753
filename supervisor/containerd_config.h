// The config.toml zlayer-init writes for the containerd it starts.
#pragma once

#include <string>

#include "common/config.h"

namespace zlayer::init {

// Renders containerd's configuration (format version 2) from the node's
// configuration: socket, root and state directories, log level; the CRI
// plugin is disabled (the agent is containerd's only client), and so are the
// snapshotters the node never uses, except `snapshotter`.
std::string RenderContainerdConfig(const NodeConfig& config, const std::string& snapshotter);

}  // namespace zlayer::init
