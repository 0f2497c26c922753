#include "agent/runtime/etc_files.h"

#include <fmt/format.h>

namespace zlayer::runtime {

std::string RenderHostsFile(std::string_view hostname, std::string_view address) {
  return fmt::format(
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\n"
      "ff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n"
      "{}\t{}\n",
      address.empty() ? std::string_view("127.0.1.1") : address, hostname);
}

std::string RenderResolvConf(std::string_view node_resolv_conf) {
  std::string text(node_resolv_conf);
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

std::string RenderHostnameFile(std::string_view hostname) { return fmt::format("{}\n", hostname); }

}  // namespace zlayer::runtime
