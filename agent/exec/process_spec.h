// The OCI Process of an exec, derived from the container's own spec the way
// `ctr task exec` does it: the same user, environment, working directory,
// capabilities, rlimits and security settings as the container's init
// process, with `args` replaced and `terminal` set as asked.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace zlayer::agent::exec {

// What an exec may change of the container's process.
struct ProcessOverrides {
  std::vector<std::string> args;  // required
  bool terminal = false;
  // NAME=value entries; each replaces the container's entry of that NAME or
  // is appended.
  std::vector<std::string> env;
  std::string cwd;   // empty: the container's; else absolute
  std::string user;  // empty: the container's; else "uid" or "uid:gid" (numbers)
};

// Returns the Process JSON for Tasks.Exec. kInvalidArgument when `args` is
// empty, an env entry has no '=', cwd is relative, user is not numeric, or
// `container_spec_json` is not an OCI spec with a `process` object.
Result<std::string> ExecProcessJson(std::string_view container_spec_json,
                                    const ProcessOverrides& overrides);
// The same with only args and terminal changed.
Result<std::string> ExecProcessJson(std::string_view container_spec_json,
                                    const std::vector<std::string>& args, bool terminal);

// A fresh exec id: "exec-" and 16 random hex digits (a containerd identifier).
std::string NewExecId();

}  // namespace zlayer::agent::exec
