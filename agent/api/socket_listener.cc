#include "agent/api/socket_listener.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace zlayer::api {
namespace {

// The group that may use the API besides root: "zlayer" when the node has it.
gid_t ApiGroup() {
  if (const group* g = ::getgrnam("zlayer")) return g->gr_gid;
  return ::getegid();
}

std::vector<gid_t> GroupsOf(uid_t uid, gid_t primary) {
  const passwd* pw = ::getpwuid(uid);
  if (pw == nullptr) return {};
  int count = 64;
  std::vector<gid_t> groups(static_cast<size_t>(count));
  if (::getgrouplist(pw->pw_name, primary, groups.data(), &count) < 0) {
    groups.resize(static_cast<size_t>(count));
    if (::getgrouplist(pw->pw_name, primary, groups.data(), &count) < 0) return {};
  }
  groups.resize(static_cast<size_t>(count));
  return groups;
}

}  // namespace

bool PeerAllowed(const PeerCredentials& peer, gid_t socket_group,
                 const std::vector<gid_t>& supplementary) {
  if (peer.uid == 0 || peer.gid == socket_group) return true;
  return std::find(supplementary.begin(), supplementary.end(), socket_group) != supplementary.end();
}

SocketListener::SocketListener(std::string path, Logger& log,
                               std::function<void(int fd)> on_connection)
    : path_(std::move(path)), log_(log), on_connection_(std::move(on_connection)) {}

SocketListener::~SocketListener() { Stop(); }

Status SocketListener::Start() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(addr.sun_path)) {
    return InvalidArgumentError("API socket path too long (max 107 bytes): " + path_);
  }
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("API socket");
  // A stale socket from a previous run: replace it, unless something answers.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    ::close(fd);
    return FailedPreconditionError("another agent already serves " + path_);
  }
  ::unlink(path_.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("bind " + path_, err);
  }
  socket_group_ = ApiGroup();
  if (::chown(path_.c_str(), static_cast<uid_t>(-1), socket_group_) != 0 ||
      ::chmod(path_.c_str(), 0660) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("set owner and mode of " + path_, err);
  }
  if (::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("listen on " + path_, err);
  }
  listen_fd_ = fd;
  thread_ = std::thread([this] { AcceptLoop(); });
  return Status::Ok();
}

void SocketListener::Stop() {
  if (listen_fd_ < 0) return;
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  ::unlink(path_.c_str());
}

void SocketListener::AcceptLoop() {
  while (!stopping_) {
    // gRPC drives the connection from its pollers: it must not block.
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (!stopping_) log_.Error("accept on {}: {}", path_, std::strerror(errno));
      return;
    }
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      log_.Warn("API connection without credentials refused: {}", std::strerror(errno));
      ::close(fd);
      continue;
    }
    PeerCredentials peer{cred.pid, cred.uid, cred.gid};
    if (!PeerAllowed(peer, socket_group_, GroupsOf(cred.uid, cred.gid))) {
      log_.Warn("API connection from pid {} (uid {}) refused: not root and not in group {}",
                peer.pid, peer.uid, socket_group_);
      ::close(fd);
      continue;
    }
    on_connection_(fd);
  }
}

}  // namespace zlayer::api
