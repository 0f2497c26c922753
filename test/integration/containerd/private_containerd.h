// A containerd of the test's own: root, state and sockets under a fresh
// /tmp/zl-XXXXXX directory, CRI disabled, and a namespace unique to this run
// (runc shims keep state in /run/containerd/runc/<namespace> whatever
// containerd's --state is, so namespaces must not collide with other daemons).
//
// The destructor tears everything down even after a failed test: tasks of the
// namespace (runc delete --force), their shims, the daemon, mounts under the
// directory, the directory, /run/containerd/runc/<ns>, FIFO directories
// made by NewFifoDir() and the /sys/fs/cgroup/*/<ns> groups runc made.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "agent/containerd/client.h"
#include "common/status.h"

namespace zlayer::containerd::testing {

class PrivateContainerd {
 public:
  // Creates the directory and config and starts the daemon; check started().
  PrivateContainerd();
  ~PrivateContainerd();
  PrivateContainerd(const PrivateContainerd&) = delete;
  PrivateContainerd& operator=(const PrivateContainerd&) = delete;

  // OK once the daemon answers Version; otherwise why it does not (with the
  // tail of its log).
  const Status& started() const { return start_status_; }

  const std::string& dir() const { return dir_; }
  const std::string& socket_path() const { return socket_path_; }
  const std::string& namespace_name() const { return namespace_name_; }
  // "overlayfs" when the directory's file system carries it, else "native".
  const std::string& snapshotter() const { return snapshotter_; }

  // A new gRPC client for this daemon and namespace.
  std::unique_ptr<Client> NewClient(
      std::chrono::milliseconds call_timeout = std::chrono::seconds(10)) const;

  // Stops the daemon (SIGTERM, SIGKILL after 10 s) and waits for it to exit.
  void Stop();
  // Starts the daemon again with the same configuration; waits until it answers.
  Status Start();

  // A fresh directory /run/containerd/fifo/<namespace>-XXXXXX (where the Go
  // client keeps FIFOs), removed by the destructor.
  std::string NewFifoDir() const;

  // The last lines of the daemon's log, for failure messages.
  std::string LogTail() const;

 private:
  Status WaitUntilAnswering(std::chrono::milliseconds timeout);
  void KillNamespaceTasks();
  void RemoveNamespaceLeftovers();
  void RemoveCgroups();

  std::string dir_;
  std::string socket_path_;
  std::string config_path_;
  std::string log_path_;
  std::string namespace_name_;
  std::string snapshotter_;
  pid_t pid_ = -1;
  Status start_status_;
};

}  // namespace zlayer::containerd::testing
