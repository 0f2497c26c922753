// The agent's API socket: a Unix stream socket whose callers are checked
// before gRPC sees them.
//
// gRPC cannot tell who is on the other end of a Unix socket, so we accept
// connections ourselves, check the peer with SO_PEERCRED (root, or a member of
// the socket file's group, like Docker's socket), and hand accepted
// descriptors to the gRPC server (AddInsecureChannelFromFd). The socket file
// is mode 0660; a stale file from an earlier run is replaced.
//
// Threading: Start() runs the accept loop on a thread of its own; Stop()
// ends it and joins. The callback runs on that thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "common/log.h"
#include "common/status.h"

namespace zlayer::api {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Whether a peer may use the API: root, or primary or supplementary member
// of `socket_group`. `supplementary` are the peer user's groups.
bool PeerAllowed(const PeerCredentials& peer, gid_t socket_group,
                 const std::vector<gid_t>& supplementary);

class SocketListener {
 public:
  // `on_connection` receives each accepted, allowed descriptor and owns it.
  SocketListener(std::string path, Logger& log, std::function<void(int fd)> on_connection);
  ~SocketListener();

  // Binds and listens (creating the parent directory), then accepts on a
  // thread. Errors name the path (kFailedPrecondition when another process
  // already serves there).
  Status Start();
  void Stop();

 private:
  void AcceptLoop();

  std::string path_;
  Logger& log_;
  std::function<void(int)> on_connection_;
  int listen_fd_ = -1;
  gid_t socket_group_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace zlayer::api
