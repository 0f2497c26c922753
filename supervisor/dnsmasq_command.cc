#include "supervisor/dnsmasq_command.h"

#include <fmt/format.h>

#include "common/ipv4_cidr.h"
#include "common/network_names.h"

namespace zlayer::init {

Result<DnsmasqCommand> DnsmasqCommandFor(const NodeConfig& config, std::string program) {
  auto range = Ipv4Cidr::Parse(config.network_cidr);
  if (!range.ok()) {
    return InvalidArgumentError(
        fmt::format("ZLAYER_NETWORK_CIDR={}: {}", config.network_cidr, range.status().message()));
  }
  DnsmasqCommand command;
  command.program = std::move(program);
  command.hosts_dir = DnsHostsDir(config);
  command.interface_prefix = BridgePrefix(*range);
  return command;
}

std::vector<std::string> DnsmasqArgv(const DnsmasqCommand& command) {
  std::vector<std::string> argv = {
      command.program,
      "--keep-in-foreground",
      "--conf-file=/dev/null",
      "--log-facility=-",
      "--pid-file=",
      "--user=root",
      "--no-hosts",
      "--hostsdir=" + command.hosts_dir,
      "--bind-dynamic",
      "--interface=" + command.interface_prefix + "*",
      "--except-interface=lo",
      fmt::format("--local=/{}/", kClusterDomain),
      "--domain-needed",
      "--resolv-file=" + command.resolv_file,
  };
  if (command.port != 0) argv.push_back(fmt::format("--port={}", command.port));
  return argv;
}

}  // namespace zlayer::init
