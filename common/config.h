// The node's configuration: one list of environment variables shared by
// zlayer-init, zlayer-agent and the zlayer CLI (README "Configuration").
//
// Every path is settable so that several nodes can run side by side under
// /tmp in tests. LoadNodeConfig never reads the process environment itself:
// callers pass an Environment (CurrentEnvironment() in main, a map in tests).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace zlayer {

using Environment = std::map<std::string, std::string>;

// A snapshot of this process's environment (environ).
Environment CurrentEnvironment();

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Let's Encrypt's directories (ZLAYER_ACME_STAGING=1 picks the staging one).
inline constexpr const char* kLetsEncryptDirectory =
    "https://acme-v02.api.letsencrypt.org/directory";
inline constexpr const char* kLetsEncryptStagingDirectory =
    "https://acme-staging-v02.api.letsencrypt.org/directory";

struct NodeConfig {
  // Documented for users of the image (the five of the Docker reference).
  std::string containerd_socket = "/run/containerd/containerd.sock";
  std::string namespace_name = "zlayer";
  std::string state_dir = "/var/lib/zlayer/containers";
  std::string snapshotter = "overlayfs";
  std::string runtime = "io.containerd.runc.v2";

  // Paths, so tests can run nodes side by side.
  std::string data_dir = "/var/lib/zlayer";
  std::string containerd_root = "/var/lib/containerd";
  std::string containerd_state = "/run/containerd";
  std::string run_dir = "/run/zlayer";
  std::string agent_socket = "/run/zlayer/agent.sock";

  LogLevel log_level = LogLevel::kInfo;
  std::vector<std::string> insecure_registries;
  // Docker config.json with registry credentials (ZLAYER_REGISTRY_CONFIG; default
  // <data_dir>/config.json). $DOCKER_CONFIG/config.json is read after it.
  std::string registry_config;
  int pull_concurrency = 3;  // layers fetched at once by one pull
  // The range the deployments' subnets come from, a /24 each (ZLAYER_NETWORK_CIDR):
  // an IPv4 CIDR with a prefix of at most /24, checked by LoadNodeConfig.
  std::string network_cidr = "10.200.0.0/16";
  // The range the services' stable (virtual) addresses come from
  // (ZLAYER_SERVICE_CIDR): an IPv4 CIDR disjoint from network_cidr.
  std::string service_cidr = "10.201.0.0/16";

  // Supervisor (zlayer-init) tuning.
  std::chrono::nanoseconds stop_timeout = std::chrono::seconds(9);
  std::chrono::nanoseconds start_timeout = std::chrono::seconds(60);
  std::chrono::nanoseconds watchdog_timeout = std::chrono::seconds(30);  // 0 = off
  // Starts in a row without READY=1 before giving up on a program; a program
  // that crashes after being ready is restarted forever.
  int restart_limit = 5;
  std::string containerd_bin = "containerd";  // a bare name is looked up on PATH
  std::string agent_bin;                      // empty: zlayer-agent beside zlayer-init
  std::string cli_bin;                        // empty: zlayer beside zlayer-init
  std::string dnsmasq_bin = "dnsmasq";        // a bare name is looked up on PATH
  std::string haproxy_bin = "haproxy";        // a bare name is looked up on PATH
  // The IPv4 address the ingress listeners bind (ZLAYER_INGRESS_ADDRESS); "" =
  // every address of the node. Tests give each node its own loopback address.
  std::string ingress_address;

  // Automatic certificates for the https hosts (ACME, HTTP-01 on port 80). On
  // when acme_email is set (ZLAYER_ACME_EMAIL; setting it accepts the CA's
  // terms of service).
  std::string acme_email;
  // ZLAYER_ACME_DIRECTORY; ZLAYER_ACME_STAGING=1 sets Let's Encrypt's staging one.
  std::string acme_directory = kLetsEncryptDirectory;
  std::string acme_ca_bundle;  // ZLAYER_ACME_CA_BUNDLE: extra CAs (PEM) to trust the CA with
  // Where the ACME client answers HTTP-01 challenges (ZLAYER_ACME_CHALLENGE_ADDRESS,
  // "ipv4:port"); the ingress's port-80 listener forwards them there.
  std::string acme_challenge_address = "127.0.0.1:8402";
  // A certificate expiring within this is renewed (ZLAYER_ACME_RENEW_BEFORE).
  std::chrono::nanoseconds acme_renew_before = std::chrono::hours(24 * 30);
  // The first retry after a failed attempt (ZLAYER_ACME_RETRY); doubled per
  // failure up to a day, and never before the CA's own retry-after.
  std::chrono::nanoseconds acme_retry = std::chrono::minutes(1);
  std::string lego_bin = "lego";  // ZLAYER_LEGO_BIN; a bare name is looked up on PATH

  // True when ZLAYER_SNAPSHOTTER was set explicitly (the user pinned it), so
  // the supervisor must not silently fall back to another snapshotter.
  bool snapshotter_pinned = false;
};

// The directory of dnsmasq's --hostsdir, one hosts file per deployment:
// <run_dir>/dns/hosts. zlayer-init creates it before starting dnsmasq; the agent
// writes the files (agent/network/dns/hosts_dir_records.h). Pure.
std::string DnsHostsDir(const NodeConfig& config);

// Where the node's HAProxy (the ingress on the spec's public ports) keeps its
// files, all under <run_dir>/ingress. The agent writes them; zlayer-init
// creates the directory and, when config_file is absent, a listener-less
// configuration so that HAProxy can start before the agent. Pure.
struct IngressPaths {
  std::string dir;            // <run_dir>/ingress
  std::string config_file;    // haproxy.cfg
  std::string admin_socket;   // the runtime API (stats socket, level admin)
  std::string master_socket;  // the master CLI (reload, show proc)
  std::string maps_dir;       // the routing maps the configuration names
  std::string certs_dir;      // the PEM files HAProxy loads (cert + key each)
  std::string crt_list;       // the TLS listeners' crt-list (SNI -> PEM)
};
IngressPaths IngressPathsFor(const NodeConfig& config);

// The directory users put certificates in: <data_dir>/certs, with
// <domain>.crt + <domain>.key (and _wildcard.<domain>.* for *.<domain>). Pure.
std::string UserCertsDir(const NodeConfig& config);

// Where the ACME client keeps its account and certificates: <data_dir>/acme
// (lego's --path; the certificates in its certificates/ directory). Pure.
std::string AcmeDir(const NodeConfig& config);

// Builds the configuration from `env`. Every bad value is reported at once in
// one kInvalidArgument Status naming each variable ("ZLAYER_STOP_TIMEOUT=abc:
// invalid duration ..."); nothing is defaulted silently over a bad value.
Result<NodeConfig> LoadNodeConfig(const Environment& env);

// ZLAYER_* variables in `env` that no program knows: a typo should not pass
// silently. Callers log them once at start.
std::vector<std::string> UnknownZlayerVariables(const Environment& env);

// Every variable LoadNodeConfig reads, with its default and meaning, in the
// order of the README's table.
struct ConfigVariable {
  const char* name;
  const char* default_value;
  const char* meaning;
};
const std::vector<ConfigVariable>& ConfigVariables();

Result<LogLevel> ParseLogLevel(const std::string& text);

}  // namespace zlayer
