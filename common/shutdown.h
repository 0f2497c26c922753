// How zlayer-init and zlayer-agent share a node shutdown's time.
#pragma once

namespace zlayer {

// The share of ZLAYER_STOP_TIMEOUT the agent gets to stop its containers
// before zlayer-init SIGKILLs it; containerd and the final sweep of leftover
// processes get the rest (supervisor-contract.md, "Shutdown"). The agent caps
// every container's grace period below its share.
inline constexpr double kAgentShareOfStopTimeout = 0.65;

}  // namespace zlayer
