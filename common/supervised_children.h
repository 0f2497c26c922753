// What zlayer-init knows about the programs it supervises, shared with the agent.
//
// zlayer-init rewrites one small file, `<ZLAYER_RUN_DIR>/children`, whenever a supervised
// child (containerd, the agent, dnsmasq, haproxy) changes between up and down.
// dnsmasq sends no READY=1: it is up while it runs; haproxy stays up while it reloads
// (detail "reloading (pid N)"). The agent reads it to answer `zlayer health`
// about the node: a child that is down or backing off makes the node unhealthy even while the agent
// itself answers.
//
// Format: one line per child, `<name>\t<up|down>\t<detail>`, detail free text without tabs
// or newlines ("restart 3 in 400ms after exit 1"). Written to a temporary file and renamed,
// so a reader never sees half a file.
//
// Thread safety: free functions over plain values.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace zlayer {

struct SupervisedChild {
  std::string name;
  bool up = false;
  std::string detail;

  bool operator==(const SupervisedChild&) const = default;
};

// The file's path for a run directory.
std::string SupervisedChildrenPath(const std::string& run_dir);

// Renders the file's content (pure). Tabs and newlines in names or details become spaces.
std::string FormatSupervisedChildren(const std::vector<SupervisedChild>& children);

// Parses the file's content (pure). Malformed lines are an InvalidArgument error naming the
// line number.
Result<std::vector<SupervisedChild>> ParseSupervisedChildren(const std::string& text);

// Writes the file atomically (temporary file + rename, no fsync: it lives on tmpfs and is
// rewritten at every start). Returns the errno error of the failing step.
Status WriteSupervisedChildren(const std::string& run_dir,
                               const std::vector<SupervisedChild>& children);

// Reads and parses the file. NotFound when it does not exist (a node not started by
// zlayer-init, as in some tests: callers treat that as "nothing supervised").
Result<std::vector<SupervisedChild>> ReadSupervisedChildren(const std::string& run_dir);

}  // namespace zlayer
