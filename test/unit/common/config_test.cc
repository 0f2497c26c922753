#include "common/config.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using zlayer::Environment;
using zlayer::LoadNodeConfig;

TEST_CASE("With an empty environment every setting has its documented default") {
  auto config = LoadNodeConfig({});
  REQUIRE(config.ok());
  CHECK(config->containerd_socket == "/run/containerd/containerd.sock");
  CHECK(config->namespace_name == "zlayer");
  CHECK(config->state_dir == "/var/lib/zlayer/containers");
  CHECK(config->snapshotter == "overlayfs");
  CHECK_FALSE(config->snapshotter_pinned);
  CHECK(config->runtime == "io.containerd.runc.v2");
  CHECK(config->data_dir == "/var/lib/zlayer");
  CHECK(config->run_dir == "/run/zlayer");
  CHECK(config->agent_socket == "/run/zlayer/agent.sock");
  CHECK(config->stop_timeout == 9s);
  CHECK(config->log_level == zlayer::LogLevel::kInfo);
  CHECK(config->dnsmasq_bin == "dnsmasq");
  CHECK(zlayer::DnsHostsDir(*config) == "/run/zlayer/dns/hosts");
}

TEST_CASE("The DNS server can be replaced, and its hosts directory follows the run dir") {
  auto config =
      LoadNodeConfig({{"ZLAYER_DNSMASQ_BIN", "/opt/dnsmasq"}, {"ZLAYER_RUN_DIR", "/tmp/zl-2/run"}});
  REQUIRE(config.ok());
  CHECK(config->dnsmasq_bin == "/opt/dnsmasq");
  CHECK(zlayer::DnsHostsDir(*config) == "/tmp/zl-2/run/dns/hosts");
  CHECK(zlayer::UnknownZlayerVariables({{"ZLAYER_DNSMASQ_BIN", "x"}}).empty());
}

TEST_CASE("The ingress binds every address unless told one, and keeps its files in the run dir") {
  auto defaults = LoadNodeConfig({});
  REQUIRE(defaults.ok());
  CHECK(defaults->ingress_address.empty());
  CHECK(defaults->haproxy_bin == "haproxy");
  auto config = LoadNodeConfig({{"ZLAYER_INGRESS_ADDRESS", "127.0.13.1"},
                                {"ZLAYER_HAPROXY_BIN", "/opt/haproxy"},
                                {"ZLAYER_RUN_DIR", "/tmp/zl-3/run"},
                                {"ZLAYER_DATA_DIR", "/tmp/zl-3/data"}});
  REQUIRE(config.ok());
  CHECK(config->ingress_address == "127.0.13.1");
  CHECK(config->haproxy_bin == "/opt/haproxy");
  zlayer::IngressPaths paths = zlayer::IngressPathsFor(*config);
  CHECK(paths.config_file == "/tmp/zl-3/run/ingress/haproxy.cfg");
  CHECK(paths.admin_socket == "/tmp/zl-3/run/ingress/admin.sock");
  CHECK(paths.master_socket == "/tmp/zl-3/run/ingress/master.sock");
  CHECK(zlayer::UserCertsDir(*config) == "/tmp/zl-3/data/certs");
}

TEST_CASE("An ingress address that is not an IPv4 address is refused, naming the variable") {
  auto config = LoadNodeConfig({{"ZLAYER_INGRESS_ADDRESS", "localhost"}});
  REQUIRE_FALSE(config.ok());
  CHECK(config.status().message().find("ZLAYER_INGRESS_ADDRESS=localhost: not an IPv4 address") !=
        std::string::npos);
}

TEST_CASE("ACME is off by default, on with an email, and aimed at Let's Encrypt unless told") {
  auto defaults = LoadNodeConfig({});
  REQUIRE(defaults.ok());
  CHECK(defaults->acme_email.empty());
  CHECK(defaults->acme_directory == "https://acme-v02.api.letsencrypt.org/directory");
  CHECK(defaults->acme_challenge_address == "127.0.0.1:8402");
  CHECK(defaults->acme_renew_before == std::chrono::hours(720));
  auto config = LoadNodeConfig({{"ZLAYER_ACME_EMAIL", "ops@example.com"},
                                {"ZLAYER_ACME_DIRECTORY", "https://127.0.0.1:14000/dir"},
                                {"ZLAYER_ACME_CA_BUNDLE", "/tmp/pebble.pem"},
                                {"ZLAYER_ACME_CHALLENGE_ADDRESS", "127.0.0.1:18610"},
                                {"ZLAYER_ACME_RENEW_BEFORE", "87600h"},
                                {"ZLAYER_ACME_RETRY", "2s"},
                                {"ZLAYER_DATA_DIR", "/tmp/zl-3/data"}});
  REQUIRE(config.ok());
  CHECK(config->acme_email == "ops@example.com");
  CHECK(config->acme_directory == "https://127.0.0.1:14000/dir");
  CHECK(config->acme_ca_bundle == "/tmp/pebble.pem");
  CHECK(config->acme_challenge_address == "127.0.0.1:18610");
  CHECK(config->acme_renew_before == std::chrono::hours(87600));
  CHECK(config->acme_retry == std::chrono::seconds(2));
  CHECK(zlayer::AcmeDir(*config) == "/tmp/zl-3/data/acme");
  auto staging = LoadNodeConfig({{"ZLAYER_ACME_STAGING", "1"}});
  REQUIRE(staging.ok());
  CHECK(staging->acme_directory == "https://acme-staging-v02.api.letsencrypt.org/directory");
}

TEST_CASE("Bad ACME settings are refused, each naming its variable") {
  auto config = LoadNodeConfig({{"ZLAYER_ACME_EMAIL", "ops"},
                                {"ZLAYER_ACME_DIRECTORY", "http://ca.test/dir"},
                                {"ZLAYER_ACME_STAGING", "yes"},
                                {"ZLAYER_ACME_CHALLENGE_ADDRESS", "localhost:80"},
                                {"ZLAYER_ACME_RENEW_BEFORE", "10m"},
                                {"ZLAYER_ACME_CA_BUNDLE", "pebble.pem"}});
  REQUIRE_FALSE(config.ok());
  const std::string& message = config.status().message();
  for (const char* expected :
       {"ZLAYER_ACME_EMAIL=ops: not an email address",
        "ZLAYER_ACME_DIRECTORY=http://ca.test/dir: must be an https:// URL",
        "ZLAYER_ACME_STAGING=yes: expected 1 or 0",
        "ZLAYER_ACME_CHALLENGE_ADDRESS=localhost:80: expected an IPv4 address and port",
        "ZLAYER_ACME_RENEW_BEFORE: must be at least 1h",
        "ZLAYER_ACME_CA_BUNDLE=pebble.pem: must be an absolute path"}) {
    INFO(expected);
    CHECK(message.find(expected) != std::string::npos);
  }
  auto both = LoadNodeConfig(
      {{"ZLAYER_ACME_STAGING", "1"}, {"ZLAYER_ACME_DIRECTORY", "https://ca.test/dir"}});
  REQUIRE_FALSE(both.ok());
  CHECK(both.status().message().find("set one of them") != std::string::npos);
}

TEST_CASE("Every path can be moved, so that nodes run side by side under /tmp") {
  Environment env = {{"ZLAYER_RUN_DIR", "/tmp/zl-1/run"},
                     {"CONTAINERD_SOCKET", "/tmp/zl-1/c.sock"},
                     {"ZLAYER_CONTAINERD_ROOT", "/tmp/zl-1/root"},
                     {"ZLAYER_SNAPSHOTTER", "native"},
                     {"ZLAYER_INSECURE_REGISTRIES", "reg:5000, other ,"}};
  auto config = LoadNodeConfig(env);
  REQUIRE(config.ok());
  CHECK(config->run_dir == "/tmp/zl-1/run");
  CHECK(config->agent_socket == "/tmp/zl-1/run/agent.sock");  // follows the run dir
  CHECK(config->containerd_socket == "/tmp/zl-1/c.sock");
  CHECK(config->containerd_root == "/tmp/zl-1/root");
  CHECK(config->snapshotter == "native");
  CHECK(config->snapshotter_pinned);
  CHECK(config->insecure_registries == std::vector<std::string>{"reg:5000", "other"});
}

TEST_CASE("Every bad value is reported at once, each naming its variable") {
  Environment env = {{"ZLAYER_STOP_TIMEOUT", "soon"},
                     {"ZLAYER_LOG_LEVEL", "loud"},
                     {"ZLAYER_DATA_DIR", "relative/path"},
                     {"ZLAYER_RESTART_LIMIT", "0"}};
  auto config = LoadNodeConfig(env);
  REQUIRE_FALSE(config.ok());
  const std::string& message = config.status().message();
  CHECK_THAT(message, Catch::Contains("ZLAYER_STOP_TIMEOUT"));
  CHECK_THAT(message, Catch::Contains("ZLAYER_LOG_LEVEL"));
  CHECK_THAT(message, Catch::Contains("ZLAYER_DATA_DIR=relative/path: must be an absolute path"));
  CHECK_THAT(message, Catch::Contains("ZLAYER_RESTART_LIMIT"));
}

TEST_CASE("A typo in a ZLAYER_ variable is reported as unknown") {
  Environment env = {{"ZLAYER_NAMESPAC", "x"}, {"ZLAYER_NAMESPACE", "y"}, {"PATH", "/bin"}};
  CHECK(zlayer::UnknownZlayerVariables(env) == std::vector<std::string>{"ZLAYER_NAMESPAC"});
}

TEST_CASE("A socket path too long for sun_path is rejected before anything binds it") {
  Environment env = {{"ZLAYER_SOCKET", "/tmp/" + std::string(120, 'x')}};
  auto config = LoadNodeConfig(env);
  REQUIRE_FALSE(config.ok());
  CHECK_THAT(config.status().message(), Catch::Contains("shorter than 108 bytes"));
}

TEST_CASE(
    "Registry credentials default to the data dir's config.json; pulls fetch 3 layers at once") {
  auto config = LoadNodeConfig({{"ZLAYER_DATA_DIR", "/tmp/zl-2/data"}});
  REQUIRE(config.ok());
  CHECK(config->registry_config == "/tmp/zl-2/data/config.json");
  CHECK(config->pull_concurrency == 3);
  auto set = LoadNodeConfig(
      {{"ZLAYER_REGISTRY_CONFIG", "/etc/zl/auth.json"}, {"ZLAYER_PULL_CONCURRENCY", "8"}});
  REQUIRE(set.ok());
  CHECK(set->registry_config == "/etc/zl/auth.json");
  CHECK(set->pull_concurrency == 8);
}

TEST_CASE("The deployments' network range defaults to 10.200.0.0/16 and must hold a /24") {
  auto defaults = LoadNodeConfig({});
  REQUIRE(defaults.ok());
  CHECK(defaults->network_cidr == "10.200.0.0/16");
  auto set = LoadNodeConfig({{"ZLAYER_NETWORK_CIDR", "10.231.0.0/20"}});
  REQUIRE(set.ok());
  CHECK(set->network_cidr == "10.231.0.0/20");
  for (const char* bad : {"10.200.0.0", "10.200.0.1/16", "10.200.0.0/25", "fd00::/64"}) {
    INFO(bad);
    auto config = LoadNodeConfig({{"ZLAYER_NETWORK_CIDR", bad}});
    REQUIRE_FALSE(config.ok());
    CHECK_THAT(config.status().message(), Catch::Contains("ZLAYER_NETWORK_CIDR"));
  }
}

TEST_CASE(
    "The services' address range defaults to 10.201.0.0/16 and must not overlap the deployments'") {
  auto defaults = LoadNodeConfig({});
  REQUIRE(defaults.ok());
  CHECK(defaults->service_cidr == "10.201.0.0/16");
  auto set = LoadNodeConfig({{"ZLAYER_SERVICE_CIDR", "10.232.0.0/24"}});
  REQUIRE(set.ok());
  CHECK(set->service_cidr == "10.232.0.0/24");
  for (const char* bad : {"10.201.0.0", "10.201.0.1/16", "10.201.0.0/31"}) {
    INFO(bad);
    auto config = LoadNodeConfig({{"ZLAYER_SERVICE_CIDR", bad}});
    REQUIRE_FALSE(config.ok());
    CHECK_THAT(config.status().message(), Catch::Contains("ZLAYER_SERVICE_CIDR"));
  }
  auto overlap = LoadNodeConfig({{"ZLAYER_SERVICE_CIDR", "10.200.128.0/17"}});
  REQUIRE_FALSE(overlap.ok());
  CHECK_THAT(overlap.status().message(), Catch::Contains("overlap"));
}

TEST_CASE("A pull concurrency that is not a whole number from 1 to 64 is rejected") {
  for (const char* bad : {"0", "-1", "many", "65", "2x"}) {
    auto config = LoadNodeConfig({{"ZLAYER_PULL_CONCURRENCY", bad}});
    REQUIRE_FALSE(config.ok());
    CHECK_THAT(config.status().message(), Catch::Contains("ZLAYER_PULL_CONCURRENCY"));
  }
  CHECK_FALSE(LoadNodeConfig({{"ZLAYER_REGISTRY_CONFIG", "rel/config.json"}}).ok());
}
