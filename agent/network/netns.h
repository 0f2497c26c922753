// Named network namespaces the agent creates for its replicas, the way
// `ip netns add` does: a new namespace is made by a short-lived thread that
// calls unshare(CLONE_NEWNET), and kept alive by bind-mounting that thread's
// /proc/<pid>/task/<tid>/ns/net onto an empty file <run_dir>/netns/<name>.
// The file's path is what CNI_NETNS and the OCI spec's network namespace get.
//
// Blocking: every call makes system calls that can wait (mount, a thread);
// run them on a pool (the lifecycle pool), never on the event loop.
// Thread safety: calls for different names may run concurrently; calls for the
// same name must not.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace zlayer::agent::network {

class Netns {
 public:
  // Namespaces live under `<run_dir>/netns` (ZLAYER_RUN_DIR, an absolute path).
  explicit Netns(std::string run_dir);

  // <run_dir>/netns/<name>.
  std::string PathOf(const std::string& name) const;

  // Creates the namespace and returns its path. Errors: kInvalidArgument for a
  // name that is empty, "." / "..", or holds '/'; kAlreadyExists when the path
  // exists (an adopted namespace is used as it is, not re-created); the errno
  // Status of the failing step otherwise, after undoing the earlier steps.
  Result<std::string> Create(const std::string& name);

  // Unmounts and unlinks the namespace file. Idempotent: a name that is not
  // mounted or does not exist is OK. The namespace itself lives on while a
  // process is in it or holds it open.
  Status Remove(const std::string& name);

  // Whether <run_dir>/netns/<name> is a live namespace (an nsfs bind mount).
  // It no longer is once the node's mount namespace was made anew (the node
  // container restarted, or the host rebooted with the run dir on disk): the
  // mount is gone and an empty file is left behind.
  bool IsNamespace(const std::string& name) const;

  // Names of the files under <run_dir>/netns (for the clean-up at start);
  // empty when the directory does not exist.
  Result<std::vector<std::string>> List() const;

 private:
  Status PrepareDir();

  std::string dir_;
  std::mutex dir_mutex_;  // guards dir_ready_ and the directory's own mount
  bool dir_ready_ = false;
};

}  // namespace zlayer::agent::network
