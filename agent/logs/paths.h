// Where a container's output lives:
//   <ZLAYER_STATE_DIR>/<id>/stdout, .../stderr   FIFOs (directory 0700)
//   <ZLAYER_DATA_DIR>/logs/<id>.log[.N]          log files (log_file.h)
// The FIFO paths are what the agent passes to Tasks.Create and what it
// re-opens when it adopts a running task after a restart.
//
// Thread safety: pure functions and plain file system calls. The file system
// calls block briefly (mkdir, unlink); they run where the caller's other
// container set-up runs.
#pragma once

#include <string>
#include <string_view>

#include "common/config.h"
#include "common/status.h"

namespace zlayer::agent::logs {

struct ContainerIoPaths {
  std::string container_id;
  std::string fifo_dir;     // <state_dir>/<id>
  std::string stdout_fifo;  // <fifo_dir>/stdout
  std::string stderr_fifo;  // <fifo_dir>/stderr
  std::string log_dir;      // <data_dir>/logs
  std::string log_file;     // <log_dir>/<id>.log
};

// Returns kInvalidArgument unless `id` is a containerd identifier
// ([A-Za-z0-9]+ joined by single '.', '_' or '-', at most 76 characters), which
// also keeps it from escaping a directory ("..", "/").
Status ValidateContainerId(std::string_view id);

// The paths for container `id`; kInvalidArgument for an invalid id.
Result<ContainerIoPaths> IoPathsFor(const NodeConfig& config, std::string_view id);

// Creates the FIFO directory (0700, parents 0700 as needed) and the log
// directory (0750, parents as needed). Existing directories are kept as they
// are. Returns the errno Status of mkdir naming the directory.
Status PrepareContainerIo(const ContainerIoPaths& paths);

// Removes the FIFO directory with its FIFOs and every <id>.log[.N] file. Only
// after Tasks.Delete: a FIFO re-created while the task lives is a different
// pipe that the shim does not know. Missing files are not an error; other
// failures return the first errno Status naming the path, after trying all.
Status RemoveContainerIo(const ContainerIoPaths& paths);

}  // namespace zlayer::agent::logs
