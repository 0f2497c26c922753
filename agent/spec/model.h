// The deployment spec as plain data: what a parsed and validated `version: v1` spec says
// (../shared/reference/spec-v1.md), with every default filled in and every value typed.
//
// A Deployment produced by ParseSpec (parser.h) is complete: no field needs another default
// applied by its readers, names are valid, references between services resolve and the
// dependency graph has no cycle. Values built by hand (tests) carry no such guarantee.
//
// Only what this node runs is representable: `rtype: cron`, `scale.mode: adaptive` and the
// other keys the parser rejects as "recognised, not supported on this node yet" have no field.
//
// Thread safety: plain values; copy freely.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace zlayer::spec {

// `rtype`. A service runs forever; a job runs to completion.
enum class ResourceType { kService, kJob };

// `image.pull_policy`: when to contact the registry.
enum class PullPolicy { kAlways, kIfNotPresent, kNever, kNewer };

// `scale.mode`. Fixed: the spec's replica count is the truth, redeploys reset it.
// Manual: the count starts at one and follows `zlayer scale`.
enum class ScaleMode { kFixed, kManual };

// `restart_policy.kind`.
enum class RestartKind { kNo, kAlways, kUnlessStopped, kOnFailure };

// `health.check.type`.
enum class HealthCheckType { kTcp, kHttp, kCommand };

// `depends[].condition` and `depends[].on_timeout`.
enum class DependencyCondition { kStarted, kHealthy, kReady };
enum class TimeoutAction { kFail, kWarn, kContinue };

// `endpoints[].protocol` and `endpoints[].expose`.
enum class Protocol { kHttp, kHttps, kTcp, kUdp, kWebsocket };
enum class Exposure { kPublic, kInternal };

// `network_mode`: kDefault gives each replica a network namespace of its own on
// its deployment's bridge (an address, service names); kHost shares the node's
// network namespace; kNone gives a namespace with loopback only.
enum class NetworkMode { kDefault, kHost, kNone };

// The spelling each enum value has in YAML ("if_not_present", "on_failure", ...).
std::string_view Name(ResourceType value);
std::string_view Name(PullPolicy value);
std::string_view Name(ScaleMode value);
std::string_view Name(RestartKind value);
std::string_view Name(HealthCheckType value);
std::string_view Name(DependencyCondition value);
std::string_view Name(TimeoutAction value);
std::string_view Name(Protocol value);
std::string_view Name(Exposure value);
std::string_view Name(NetworkMode value);

struct Image {
  // The reference as written: `nginx` means docker.io/library/nginx:latest, but turning it
  // into a full reference is the image store's job. Syntax is checked by the parser.
  std::string name;
  PullPolicy pull_policy = PullPolicy::kIfNotPresent;
};

// Docker semantics: nullopt keeps the image's value; an empty list clears it.
struct Command {
  std::optional<std::vector<std::string>> entrypoint;  // image ENTRYPOINT when nullopt
  std::optional<std::vector<std::string>> args;        // image CMD when nullopt
  std::optional<std::string> workdir;                  // absolute; image WORKDIR or "/"
};

struct Resources {
  std::optional<double> cpu;             // cores (> 0); CFS quota at period 100000
  std::optional<uint64_t> memory_bytes;  // > 0
  std::optional<int64_t> pids_limit;     // >= 1
};

struct Scale {
  ScaleMode mode = ScaleMode::kFixed;
  uint32_t replicas = 1;  // 0..kMaxReplicas (naming.h)
};

struct Endpoint {
  std::string name;  // unique within the service
  Protocol protocol = Protocol::kTcp;
  uint16_t port = 0;                // 1..65535
  uint16_t target_port = 0;         // the port the container listens on; defaults to port
  std::optional<std::string> path;  // http, https and websocket only; starts with '/'
  std::optional<std::string> host;  // http, https and websocket only
  Exposure expose = Exposure::kInternal;
  // Ours, not ZLayer's: a public https endpoint also answers on the node's
  // port-80 HTTP listener with a permanent redirect to https.
  bool redirect_http = false;
};

struct HealthCheck {
  HealthCheckType type = HealthCheckType::kTcp;
  uint16_t port = 0;                 // kTcp: never 0 after parsing
  std::string url;                   // kHttp: http:// or https://
  int expect_status = 200;           // kHttp: 100..599
  std::vector<std::string> command;  // kCommand: argv run inside the container; a string
                                     // in YAML becomes {"/bin/sh", "-c", string}
};

struct Health {
  std::chrono::nanoseconds start_grace = std::chrono::seconds(5);  // failures do not count
  std::chrono::nanoseconds interval = std::chrono::seconds(10);    // > 0
  std::chrono::nanoseconds timeout = std::chrono::seconds(5);      // > 0, per check
  uint32_t retries = 3;  // >= 1 consecutive failures before unhealthy
  HealthCheck check;
};

struct RestartPolicy {
  RestartKind kind = RestartKind::kAlways;  // kOnFailure for jobs
  uint32_t max_attempts = 0;                // 0 = unlimited
  // First back-off delay (> 0); the restart policy doubles it per failure.
  std::chrono::nanoseconds delay = std::chrono::milliseconds(100);
};

struct Dependency {
  std::string service;  // another service of the same deployment
  DependencyCondition condition = DependencyCondition::kHealthy;
  std::chrono::nanoseconds timeout = std::chrono::seconds(300);
  TimeoutAction on_timeout = TimeoutAction::kFail;
};

// `storage[]`, tagged by `type`. Every target is absolute, is not "/", has no ".." component
// and is unique within the service.
struct BindMount {
  std::string source;  // absolute path on the node
  std::string target;
  bool readonly = false;
};
struct NamedVolume {
  std::string name;  // [A-Za-z0-9][A-Za-z0-9_.-]*, lives under the node's data dir
  std::string target;
  bool readonly = false;
};
struct AnonymousVolume {
  std::string target;  // removed with the container
};
struct TmpfsMount {
  std::string target;
  std::optional<uint64_t> size_bytes;  // kernel default (half of RAM) when nullopt
  std::optional<uint32_t> mode;        // permission bits, <= 07777; written in octal in YAML
};
using Storage = std::variant<BindMount, NamedVolume, AnonymousVolume, TmpfsMount>;

// An rlimit. kUnlimited stands for RLIM_INFINITY (`-1` or `unlimited` in YAML).
struct Ulimit {
  static constexpr uint64_t kUnlimited = UINT64_MAX;
  uint64_t soft = 0;
  uint64_t hard = 0;  // soft <= hard
};

struct Service {
  std::string name;  // the key under `services`
  ResourceType rtype = ResourceType::kService;
  Image image;
  Command command;
  std::map<std::string, std::string> env;  // `$E:NAME` values already resolved
  Resources resources;
  Scale scale;
  std::vector<Endpoint> endpoints;
  // nullopt: no health check (no `health` and no endpoint to check). When `health` is absent
  // and an endpoint other than udp exists, a tcp check on its target_port with the defaults.
  std::optional<Health> health;
  RestartPolicy restart_policy;
  std::vector<Dependency> depends;
  std::vector<Storage> storage;
  std::optional<std::string> user;  // uid, uid:gid or names; image USER when nullopt
  std::string hostname;             // defaults to the service name
  std::map<std::string, std::string> labels;
  bool privileged = false;
  // Canonical capability names ("CAP_NET_ADMIN") or "ALL".
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  std::optional<int> stop_signal;  // signal number; image STOPSIGNAL or SIGTERM when nullopt
  std::chrono::nanoseconds stop_grace_period = std::chrono::seconds(10);  // then SIGKILL
  bool read_only_root_fs = false;
  std::map<std::string, Ulimit> ulimits;  // "nofile", "nproc", ... (kernel_names.h)
  NetworkMode network_mode = NetworkMode::kDefault;
};

struct Deployment {
  std::string version = "v1";
  std::string name;                         // the `deployment` key
  std::map<std::string, Service> services;  // by name; never empty after parsing
};

}  // namespace zlayer::spec
