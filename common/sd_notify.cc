#include "common/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <string>

namespace zlayer {

Status SdNotify(const Environment& env, std::string_view state) {
  auto it = env.find("NOTIFY_SOCKET");
  if (it == env.end() || it->second.empty()) return Status::Ok();
  const std::string& path = it->second;

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgumentError("NOTIFY_SOCKET path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace socket

  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("notify: socket");
  ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                          reinterpret_cast<sockaddr*>(&addr), len);
  int err = errno;
  ::close(fd);
  if (sent < 0) return ErrnoError("notify: send to " + path, err);
  return Status::Ok();
}

std::optional<std::chrono::microseconds> SdWatchdogInterval(const Environment& env) {
  auto it = env.find("WATCHDOG_USEC");
  if (it == env.end()) return std::nullopt;
  long long usec = 0;
  const std::string& v = it->second;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), usec);
  if (ec != std::errc() || end != v.data() + v.size() || usec <= 0) return std::nullopt;
  return std::chrono::microseconds(usec);
}

}  // namespace zlayer
