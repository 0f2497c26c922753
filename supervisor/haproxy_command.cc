#include "supervisor/haproxy_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

namespace zlayer::init {

std::vector<std::string> HaproxyArgv(const std::string& program, const IngressPaths& paths) {
  return {program, "-Ws", "-f", paths.config_file, "-S", paths.master_socket + ",mode,600"};
}

std::string HaproxyBootstrapConfig(const IngressPaths& paths) {
  return fmt::format(
      "# Written by zlayer-init because {} did not exist: HAProxy starts with its\n"
      "# runtime API and no listener. zlayer-agent owns this file from now on: it\n"
      "# rewrites it and reloads HAProxy through the master socket.\n"
      "global\n"
      "    stats socket {} mode 600 level admin expose-fd listeners\n"
      "    hard-stop-after 30s\n"
      "\n"
      "defaults\n"
      "    mode http\n"
      "    timeout connect 5s\n"
      "    timeout client 30s\n"
      "    timeout server 30s\n"
      "    timeout http-request 10s\n"
      "    timeout http-keep-alive 10s\n",
      paths.config_file, paths.admin_socket);
}

Result<bool> WriteHaproxyBootstrapConfigIfAbsent(const IngressPaths& paths) {
  if (::access(paths.config_file.c_str(), F_OK) == 0) return false;
  const std::string temp = fmt::format("{}.{}.tmp", paths.config_file, ::getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << HaproxyBootstrapConfig(paths);
    if (!out.flush()) return ErrnoError("write " + temp);
  }
  // link() fails with EEXIST instead of replacing: the agent's file always wins.
  const bool linked = ::link(temp.c_str(), paths.config_file.c_str()) == 0;
  const int err = errno;
  ::unlink(temp.c_str());
  if (linked) return true;
  if (err == EEXIST) return false;
  return ErrnoError("create " + paths.config_file, err);
}

}  // namespace zlayer::init
