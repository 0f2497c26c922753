// The receiving end of the systemd notification protocol: a Unix datagram
// socket whose path children find in NOTIFY_SOCKET.
//
// Ownership: NotifySocket owns its descriptor (close-on-exec, non-blocking)
// and unlinks its path when destroyed.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/status.h"

namespace zlayer::init {

class NotifySocket {
 public:
  // Binds `path` (a stale socket file there is removed first) with
  // SO_PASSCRED, so every datagram carries its sender's pid.
  static Result<NotifySocket> Bind(const std::string& path);

  NotifySocket(NotifySocket&& other) noexcept;
  NotifySocket& operator=(NotifySocket&&) = delete;
  ~NotifySocket();

  struct Datagram {
    pid_t sender = 0;  // from the kernel's credentials, not from the payload
    std::string text;
  };
  // Reads one pending datagram, or nullopt when none is pending. Descriptors
  // passed along (BARRIER=1, FDSTORE=1) are closed at once: closing the
  // barrier fd is what tells `systemd-notify` its message was processed.
  // Datagrams without credentials are returned with sender 0.
  Result<std::optional<Datagram>> Receive();

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  NotifySocket(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

}  // namespace zlayer::init
