#include "common/config.h"

#include <fmt/format.h>

#include <charconv>

#include "common/duration.h"
#include "common/ipv4_cidr.h"

extern char** environ;

namespace zlayer {

Environment CurrentEnvironment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

const std::vector<ConfigVariable>& ConfigVariables() {
  static const std::vector<ConfigVariable> kVariables = {
      {"CONTAINERD_SOCKET", "/run/containerd/containerd.sock", "containerd's gRPC socket"},
      {"ZLAYER_NAMESPACE", "zlayer", "containerd namespace for everything the node owns"},
      {"ZLAYER_STATE_DIR", "/var/lib/zlayer/containers", "per-container state and FIFOs"},
      {"ZLAYER_SNAPSHOTTER", "overlayfs", "containerd snapshotter"},
      {"ZLAYER_RUNTIME", "io.containerd.runc.v2", "OCI runtime for containers"},
      {"ZLAYER_DATA_DIR", "/var/lib/zlayer", "desired state, logs, named volumes, credentials"},
      {"ZLAYER_CONTAINERD_ROOT", "/var/lib/containerd", "containerd's root directory"},
      {"ZLAYER_CONTAINERD_STATE", "/run/containerd", "containerd's state directory"},
      {"ZLAYER_RUN_DIR", "/run/zlayer", "notify socket, rendered containerd config, pid files"},
      {"ZLAYER_SOCKET", "/run/zlayer/agent.sock", "the agent's API socket"},
      {"ZLAYER_STOP_TIMEOUT", "9s", "whole shutdown budget of zlayer-init"},
      {"ZLAYER_START_TIMEOUT", "60s", "how long a program may take to report READY=1"},
      {"ZLAYER_WATCHDOG_TIMEOUT", "30s", "agent watchdog (WATCHDOG_USEC); 0 turns it off"},
      {"ZLAYER_RESTART_LIMIT", "5",
       "starts in a row without READY=1 before zlayer-init gives up on a program"},
      {"ZLAYER_LOG_LEVEL", "info", "debug, info, warn or error"},
      {"ZLAYER_CONTAINERD_BIN", "containerd (on PATH)", "program run in containerd's place"},
      {"ZLAYER_AGENT_BIN", "zlayer-agent beside zlayer-init", "program run in the agent's place"},
      {"ZLAYER_CLI_BIN", "zlayer beside zlayer-init", "CLI run for deploy and pass-through"},
      {"ZLAYER_DNSMASQ_BIN", "dnsmasq (on PATH)",
       "DNS server of the containers' names, run by zlayer-init"},
      {"ZLAYER_HAPROXY_BIN", "haproxy (on PATH)",
       "the ingress proxy on the public ports, run by zlayer-init"},
      {"ZLAYER_INGRESS_ADDRESS", "(every address)",
       "IPv4 address the public endpoints' listeners bind"},
      {"ZLAYER_ACME_EMAIL", "(ACME off)",
       "turns automatic certificates on; accepts the CA's terms of service"},
      {"ZLAYER_ACME_DIRECTORY", kLetsEncryptDirectory, "the ACME CA's directory URL"},
      {"ZLAYER_ACME_STAGING", "0", "1: Let's Encrypt's staging directory"},
      {"ZLAYER_ACME_CA_BUNDLE", "", "extra CAs (PEM) to trust the ACME directory with"},
      {"ZLAYER_ACME_CHALLENGE_ADDRESS", "127.0.0.1:8402",
       "where the ACME client answers HTTP-01 challenges (port 80 forwards there)"},
      {"ZLAYER_ACME_RENEW_BEFORE", "720h", "a certificate expiring within this is renewed"},
      {"ZLAYER_ACME_RETRY", "1m", "first retry after a failed ACME attempt (doubles, up to 1 day)"},
      {"ZLAYER_LEGO_BIN", "lego (on PATH)", "the ACME client program"},
      {"ZLAYER_INSECURE_REGISTRIES", "", "comma-separated host[:port] reached over plain HTTP"},
      {"ZLAYER_REGISTRY_CONFIG", "<ZLAYER_DATA_DIR>/config.json",
       "Docker config.json with registry credentials (then $DOCKER_CONFIG/config.json)"},
      {"ZLAYER_PULL_CONCURRENCY", "3", "layers one image pull fetches at once"},
      {"ZLAYER_NETWORK_CIDR", "10.200.0.0/16",
       "range the deployments' subnets come from (a /24 each)"},
      {"ZLAYER_SERVICE_CIDR", "10.201.0.0/16", "range the services' stable addresses come from"},
      {"ZLAYER_LOG_MAX_SIZE", "10Mi", "size of one container log file before it rotates"},
      {"ZLAYER_LOG_MAX_FILES", "3", "container log files kept, the current one included"},
      {"ZLAYER_RESTART_UNHEALTHY", "true",
       "restart replicas whose health check fails (true/false)"},
  };
  return kVariables;
}

Result<LogLevel> ParseLogLevel(const std::string& text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn" || text == "warning") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return InvalidArgumentError(
      fmt::format("unknown log level \"{}\" (expected debug, info, warn or error)", text));
}

std::string DnsHostsDir(const NodeConfig& config) { return config.run_dir + "/dns/hosts"; }

IngressPaths IngressPathsFor(const NodeConfig& config) {
  IngressPaths paths;
  paths.dir = config.run_dir + "/ingress";
  paths.config_file = paths.dir + "/haproxy.cfg";
  paths.admin_socket = paths.dir + "/admin.sock";
  paths.master_socket = paths.dir + "/master.sock";
  paths.maps_dir = paths.dir + "/maps";
  paths.certs_dir = paths.dir + "/certs";
  paths.crt_list = paths.dir + "/crt-list.txt";
  return paths;
}

std::string UserCertsDir(const NodeConfig& config) { return config.data_dir + "/certs"; }

std::string AcmeDir(const NodeConfig& config) { return config.data_dir + "/acme"; }

Result<NodeConfig> LoadNodeConfig(const Environment& env) {
  NodeConfig config;
  std::vector<std::string> problems;

  auto lookup = [&](const char* name) -> const std::string* {
    auto it = env.find(name);
    if (it == env.end() || it->second.empty()) return nullptr;
    return &it->second;
  };
  auto path = [&](const char* name, std::string& field) {
    if (const std::string* v = lookup(name)) {
      if ((*v)[0] != '/') {
        problems.push_back(fmt::format("{}={}: must be an absolute path", name, *v));
      } else {
        field = *v;
      }
    }
  };
  auto text = [&](const char* name, std::string& field) {
    if (const std::string* v = lookup(name)) field = *v;
  };
  auto duration = [&](const char* name, std::chrono::nanoseconds& field) {
    if (const std::string* v = lookup(name)) {
      auto parsed = ParseDuration(*v);
      if (!parsed.ok()) {
        problems.push_back(fmt::format("{}: {}", name, parsed.status().message()));
      } else {
        field = *parsed;
      }
    }
  };

  path("CONTAINERD_SOCKET", config.containerd_socket);
  text("ZLAYER_NAMESPACE", config.namespace_name);
  path("ZLAYER_STATE_DIR", config.state_dir);
  if (const std::string* v = lookup("ZLAYER_SNAPSHOTTER")) {
    config.snapshotter = *v;
    config.snapshotter_pinned = true;
  }
  text("ZLAYER_RUNTIME", config.runtime);
  path("ZLAYER_DATA_DIR", config.data_dir);
  path("ZLAYER_CONTAINERD_ROOT", config.containerd_root);
  path("ZLAYER_CONTAINERD_STATE", config.containerd_state);
  path("ZLAYER_RUN_DIR", config.run_dir);
  // The API socket follows the run dir unless it is set on its own.
  if (lookup("ZLAYER_SOCKET") == nullptr) config.agent_socket = config.run_dir + "/agent.sock";
  path("ZLAYER_SOCKET", config.agent_socket);
  duration("ZLAYER_STOP_TIMEOUT", config.stop_timeout);
  duration("ZLAYER_START_TIMEOUT", config.start_timeout);
  duration("ZLAYER_WATCHDOG_TIMEOUT", config.watchdog_timeout);
  if (const std::string* v = lookup("ZLAYER_RESTART_LIMIT")) {
    int n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size() || n < 1) {
      problems.push_back(
          fmt::format("ZLAYER_RESTART_LIMIT={}: expected a whole number of at least 1", *v));
    } else {
      config.restart_limit = n;
    }
  }
  if (const std::string* v = lookup("ZLAYER_LOG_LEVEL")) {
    auto level = ParseLogLevel(*v);
    if (!level.ok()) {
      problems.push_back(fmt::format("ZLAYER_LOG_LEVEL: {}", level.status().message()));
    } else {
      config.log_level = *level;
    }
  }
  text("ZLAYER_CONTAINERD_BIN", config.containerd_bin);
  text("ZLAYER_AGENT_BIN", config.agent_bin);
  text("ZLAYER_CLI_BIN", config.cli_bin);
  text("ZLAYER_DNSMASQ_BIN", config.dnsmasq_bin);
  text("ZLAYER_HAPROXY_BIN", config.haproxy_bin);
  if (const std::string* v = lookup("ZLAYER_INGRESS_ADDRESS")) {
    if (!Ipv4Cidr::Parse(*v + "/32").ok()) {
      problems.push_back(fmt::format("ZLAYER_INGRESS_ADDRESS={}: not an IPv4 address", *v));
    } else {
      config.ingress_address = *v;
    }
  }
  if (const std::string* v = lookup("ZLAYER_ACME_EMAIL")) {
    const size_t at = v->find('@');
    if (at == 0 || at == std::string::npos || at + 1 == v->size() ||
        v->find_first_of(" \t,;<>") != std::string::npos) {
      problems.push_back(fmt::format("ZLAYER_ACME_EMAIL={}: not an email address", *v));
    } else {
      config.acme_email = *v;
    }
  }
  if (const std::string* v = lookup("ZLAYER_ACME_DIRECTORY")) {
    if (!v->starts_with("https://")) {
      problems.push_back(fmt::format("ZLAYER_ACME_DIRECTORY={}: must be an https:// URL", *v));
    } else {
      config.acme_directory = *v;
    }
  }
  if (const std::string* v = lookup("ZLAYER_ACME_STAGING")) {
    if (*v == "1" || *v == "true") {
      if (lookup("ZLAYER_ACME_DIRECTORY") != nullptr) {
        problems.push_back(
            "ZLAYER_ACME_STAGING and ZLAYER_ACME_DIRECTORY are both set: set one of them");
      }
      config.acme_directory = kLetsEncryptStagingDirectory;
    } else if (*v != "0" && *v != "false") {
      problems.push_back(fmt::format("ZLAYER_ACME_STAGING={}: expected 1 or 0", *v));
    }
  }
  path("ZLAYER_ACME_CA_BUNDLE", config.acme_ca_bundle);
  if (const std::string* v = lookup("ZLAYER_ACME_CHALLENGE_ADDRESS")) {
    const size_t colon = v->rfind(':');
    int port = 0;
    bool valid = colon != std::string::npos && Ipv4Cidr::Parse(v->substr(0, colon) + "/32").ok();
    if (valid) {
      auto [end, ec] = std::from_chars(v->data() + colon + 1, v->data() + v->size(), port);
      valid = ec == std::errc() && end == v->data() + v->size() && port >= 1 && port <= 65535;
    }
    if (!valid) {
      problems.push_back(
          fmt::format("ZLAYER_ACME_CHALLENGE_ADDRESS={}: expected an IPv4 address and port, "
                      "such as 127.0.0.1:8402",
                      *v));
    } else {
      config.acme_challenge_address = *v;
    }
  }
  duration("ZLAYER_ACME_RENEW_BEFORE", config.acme_renew_before);
  duration("ZLAYER_ACME_RETRY", config.acme_retry);
  text("ZLAYER_LEGO_BIN", config.lego_bin);
  if (const std::string* v = lookup("ZLAYER_INSECURE_REGISTRIES")) {
    size_t start = 0;
    while (start <= v->size()) {
      size_t comma = v->find(',', start);
      if (comma == std::string::npos) comma = v->size();
      std::string item = v->substr(start, comma - start);
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      if (!item.empty()) config.insecure_registries.push_back(item);
      start = comma + 1;
    }
  }

  config.registry_config = config.data_dir + "/config.json";
  path("ZLAYER_REGISTRY_CONFIG", config.registry_config);
  if (const std::string* v = lookup("ZLAYER_PULL_CONCURRENCY")) {
    int n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size() || n < 1 || n > 64) {
      problems.push_back(
          fmt::format("ZLAYER_PULL_CONCURRENCY={}: expected a whole number from 1 to 64", *v));
    } else {
      config.pull_concurrency = n;
    }
  }

  if (const std::string* v = lookup("ZLAYER_NETWORK_CIDR")) {
    auto cidr = Ipv4Cidr::Parse(*v);
    if (!cidr.ok()) {
      problems.push_back(fmt::format("ZLAYER_NETWORK_CIDR: {}", cidr.status().message()));
    } else if (cidr->prefix > 24) {
      problems.push_back(
          fmt::format("ZLAYER_NETWORK_CIDR={}: must hold at least one /24 (prefix 0 to 24)", *v));
    } else {
      config.network_cidr = *v;
    }
  }

  if (const std::string* v = lookup("ZLAYER_SERVICE_CIDR")) {
    auto cidr = Ipv4Cidr::Parse(*v);
    if (!cidr.ok()) {
      problems.push_back(fmt::format("ZLAYER_SERVICE_CIDR: {}", cidr.status().message()));
    } else if (cidr->prefix > 30) {
      problems.push_back(fmt::format("ZLAYER_SERVICE_CIDR={}: too small (prefix 0 to 30)", *v));
    } else {
      config.service_cidr = *v;
    }
  }
  {
    auto network = Ipv4Cidr::Parse(config.network_cidr);
    auto service = Ipv4Cidr::Parse(config.service_cidr);
    if (network.ok() && service.ok() && network->Overlaps(*service)) {
      problems.push_back(fmt::format(
          "ZLAYER_NETWORK_CIDR={} and ZLAYER_SERVICE_CIDR={} overlap: they must be disjoint",
          config.network_cidr, config.service_cidr));
    }
  }

  if (config.namespace_name.empty() || config.namespace_name.size() > 76) {
    problems.push_back(
        fmt::format("ZLAYER_NAMESPACE={}: must be 1 to 76 characters", config.namespace_name));
  }
  if (config.stop_timeout <= std::chrono::nanoseconds(0)) {
    problems.push_back("ZLAYER_STOP_TIMEOUT: must be greater than 0");
  }
  if (config.start_timeout <= std::chrono::nanoseconds(0)) {
    problems.push_back("ZLAYER_START_TIMEOUT: must be greater than 0");
  }
  if (config.acme_renew_before < std::chrono::hours(1)) {
    problems.push_back("ZLAYER_ACME_RENEW_BEFORE: must be at least 1h");
  }
  if (config.acme_retry < std::chrono::seconds(1)) {
    problems.push_back("ZLAYER_ACME_RETRY: must be at least 1s");
  }
  // Unix socket paths are limited to 107 bytes (sun_path).
  for (const auto& [name, value] : {std::pair{"CONTAINERD_SOCKET", &config.containerd_socket},
                                    std::pair{"ZLAYER_SOCKET", &config.agent_socket}}) {
    if (value->size() > 107) {
      problems.push_back(
          fmt::format("{}={}: a Unix socket path must be shorter than 108 bytes", name, *value));
    }
  }

  if (!problems.empty()) {
    std::string message = "bad configuration: " + problems[0];
    for (size_t i = 1; i < problems.size(); ++i) message += "; " + problems[i];
    return InvalidArgumentError(message);
  }
  return config;
}

std::vector<std::string> UnknownZlayerVariables(const Environment& env) {
  std::vector<std::string> unknown;
  for (const auto& [name, value] : env) {
    if (name.rfind("ZLAYER_", 0) != 0) continue;
    bool known = false;
    for (const ConfigVariable& v : ConfigVariables()) known = known || name == v.name;
    if (!known) unknown.push_back(name);
  }
  return unknown;
}

}  // namespace zlayer
