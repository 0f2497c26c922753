#include "agent/spec/parser.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <set>

#include "agent/spec/expansion.h"
#include "agent/spec/kernel_names.h"
#include "agent/spec/naming.h"
#include "agent/spec/yaml_reader.h"

namespace zlayer::spec {
namespace {

using internal::Describe;
using internal::Fields;
using internal::JoinPath;
using internal::Reader;
using internal::Value;

constexpr std::string_view kNotSupported = "recognised, not supported on this node yet";
constexpr std::string_view kNameRule = "[a-z0-9][a-z0-9-]{0,62}";

// The keys of each mapping, and the ZLayer keys this node recognises but does not implement.
const std::initializer_list<std::string_view> kTopKeys = {"version", "deployment", "services"};
const std::initializer_list<std::string_view> kTopUnsupported = {"externals", "tunnels", "api"};
const std::initializer_list<std::string_view> kServiceKeys = {"rtype",
                                                              "schedule",
                                                              "image",
                                                              "command",
                                                              "env",
                                                              "resources",
                                                              "scale",
                                                              "endpoints",
                                                              "health",
                                                              "restart_policy",
                                                              "depends",
                                                              "storage",
                                                              "user",
                                                              "hostname",
                                                              "labels",
                                                              "privileged",
                                                              "cap_add",
                                                              "capabilities",
                                                              "cap_drop",
                                                              "stop_signal",
                                                              "stop_grace_period",
                                                              "read_only_root_fs",
                                                              "ulimits",
                                                              "network_mode"};
const std::initializer_list<std::string_view> kServiceUnsupported = {"network",
                                                                     "init",
                                                                     "errors",
                                                                     "port_mappings",
                                                                     "externals",
                                                                     "tunnels",
                                                                     "api",
                                                                     "devices",
                                                                     "sysctls",
                                                                     "security_opt",
                                                                     "pid_mode",
                                                                     "ipc_mode",
                                                                     "node_mode",
                                                                     "node_selector",
                                                                     "affinity",
                                                                     "platform",
                                                                     "service_type",
                                                                     "wasm",
                                                                     "wasm_http",
                                                                     "logs",
                                                                     "lifecycle",
                                                                     "replica_groups",
                                                                     "dns",
                                                                     "extra_hosts",
                                                                     "memory_swap",
                                                                     "tty",
                                                                     "stdin_open",
                                                                     "isolation",
                                                                     "extra_groups",
                                                                     "init_container",
                                                                     "userns_mode",
                                                                     "cgroup_parent",
                                                                     "expose",
                                                                     "overlay",
                                                                     "localhost_reachability"};
const std::initializer_list<std::string_view> kResourcesKeys = {"cpu", "memory", "pids_limit"};
const std::initializer_list<std::string_view> kResourcesUnsupported = {"gpu",
                                                                       "memory_swap",
                                                                       "memory_reservation",
                                                                       "memory_swappiness",
                                                                       "kernel_memory",
                                                                       "cpu_shares",
                                                                       "cpu_period",
                                                                       "cpu_quota",
                                                                       "cpuset",
                                                                       "cpuset_cpus",
                                                                       "cpuset_mems",
                                                                       "blkio_weight",
                                                                       "oom_kill_disable",
                                                                       "oom_score_adj",
                                                                       "shm_size",
                                                                       "disk"};

// Storage types are a tag in YAML and a std::variant in the model.
enum class StorageType { kBind, kNamed, kAnonymous, kTmpfs };
std::string_view Name(StorageType type) {
  switch (type) {
    case StorageType::kBind:
      return "bind";
    case StorageType::kNamed:
      return "named";
    case StorageType::kAnonymous:
      return "anonymous";
    case StorageType::kTmpfs:
      return "tmpfs";
  }
  std::abort();
}

template <typename T>
void Assign(std::optional<T> value, T* out) {
  if (value) *out = std::move(*value);
}
template <typename T>
void Assign(std::optional<T> value, std::optional<T>* out) {
  if (value) *out = std::move(value);
}
// Integer() already checked the range.
template <typename T>
std::optional<T> Narrow(std::optional<int64_t> value) {
  if (!value) return std::nullopt;
  return static_cast<T>(*value);
}

bool IsText(const Value* value, std::string_view text) {
  return value != nullptr && value->node.IsScalar() && value->node.Scalar() == text;
}

// For mappings whose keys depend on a tag (health.check.type, storage type, scale.mode).
struct Variant {
  std::string_view tag;
  std::vector<std::string_view> keys;
  std::vector<std::string_view> unsupported_keys = {};
};

// Reports each present key that the `chosen` variant does not have, naming the variants
// that do.
void CheckVariantKeys(Reader& reader, const Fields& fields, std::string_view tag_key,
                      std::string_view chosen, const std::vector<Variant>& variants) {
  auto has = [](const std::vector<std::string_view>& keys, std::string_view key) {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  };
  const Variant* current = nullptr;
  for (const Variant& variant : variants) {
    if (variant.tag == chosen) current = &variant;
  }
  for (const auto& [key, value] : fields.values) {
    if (key == tag_key || (current != nullptr && has(current->keys, key))) continue;
    if (current != nullptr && has(current->unsupported_keys, key)) {
      reader.Report(
          value.key_mark, value.path,
          fmt::format("recognised with {}: {}, not supported on this node yet", tag_key, chosen));
      continue;
    }
    std::vector<std::string_view> owners;
    for (const Variant& variant : variants) {
      if (has(variant.keys, key)) owners.push_back(variant.tag);
    }
    reader.Report(value.key_mark, value.path,
                  fmt::format("only allowed with {}: {}", tag_key, fmt::join(owners, " or ")));
  }
}

bool IsAbsolute(std::string_view path) { return !path.empty() && path.front() == '/'; }

// An endpoint's host: a DNS name (letters, digits, '-' and '.' between
// labels, at most 253 characters), or "*." followed by one.
bool IsRouteHost(std::string_view host) {
  if (host.starts_with("*.")) host.remove_prefix(2);
  if (host.empty() || host.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      if (label == 0 || label > 63 || host[i - 1] == '-' || host[i - label] == '-') return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(host[i])) || host[i] == '-') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

// Why `path` cannot be a mount target inside a container, or nullopt when it can.
std::optional<std::string> ContainerPathProblem(std::string_view path) {
  if (!IsAbsolute(path)) return "expected an absolute path";
  if (path.find_first_not_of('/') == std::string_view::npos) return "cannot mount over /";
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (path.substr(start, slash - start) == "..") return "expected a path without \"..\"";
    start = slash + 1;
  }
  return std::nullopt;
}

// [A-Za-z0-9_.][A-Za-z0-9_.-]*, the shape of user and group names and of numeric ids.
bool IsUserOrGroup(std::string_view s) {
  auto ok = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  };
  return !s.empty() && ok(s.front()) &&
         std::all_of(s.begin(), s.end(), [&](char c) { return ok(c) || c == '-'; });
}

// uid, uid:gid, user or user:group.
bool IsUser(std::string_view s) {
  size_t colon = s.find(':');
  return IsUserOrGroup(s.substr(0, colon)) &&
         (colon == std::string_view::npos || IsUserOrGroup(s.substr(colon + 1)));
}

bool IsHttpUrl(std::string_view url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.starts_with(scheme)) {
      std::string_view rest = url.substr(scheme.size());
      return !rest.empty() && rest.front() != '/' &&
             rest.find_first_of(" \t\r\n") == std::string_view::npos;
    }
  }
  return false;
}

// [A-Za-z0-9][A-Za-z0-9_.-]*: Docker's rule for volume names; safe as a directory name.
bool IsVolumeName(std::string_view s) {
  return !s.empty() && s.size() <= 255 && std::isalnum(static_cast<unsigned char>(s.front())) &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
         });
}

// The port a default tcp health check probes: the first endpoint a tcp connect can reach.
std::optional<uint16_t> DefaultCheckPort(const std::vector<Endpoint>& endpoints) {
  for (const Endpoint& endpoint : endpoints) {
    if (endpoint.protocol != Protocol::kUdp) return endpoint.target_port;
  }
  return std::nullopt;
}

// Labels with these prefixes are the agent's (deployment, service, replica, spec hash);
// a user's label must not be able to fake them.
constexpr std::string_view kReservedLabelPrefixes[] = {"zlayer.", "io.zlayer.", "containerd.io/"};
// containerd refuses a label whose key and value exceed this many bytes together.
constexpr size_t kMaxLabelBytes = 4096;

class SpecParser {
 public:
  SpecParser(Reader& reader, const Environment& env) : reader_(reader), env_(env) {}

  Deployment Parse(const Value& root);

 private:
  Service ParseService(const std::string& name, const Value& value);
  void ParseImage(const Fields& service, Image* image);
  void ParseCommand(const Value* value, Command* command);
  void ParseEnv(const Value* value, std::map<std::string, std::string>* env);
  void AddEnv(const Value& item, const std::string& name, std::string value,
              std::map<std::string, std::string>* env);
  void ParseResources(const Value* value, Resources* resources);
  void ParseScale(const Value* value, Scale* scale);
  void ParseEndpoints(const Value* value, std::vector<Endpoint>* endpoints);
  std::optional<Health> ParseHealth(const Value* value, const std::vector<Endpoint>& endpoints);
  void ParseHealthCheck(const Value& value, std::optional<uint16_t> default_port,
                        HealthCheck* check);
  void ParseRestartPolicy(const Value* value, RestartPolicy* policy);
  void ParseDepends(const std::string& service, const Value* value,
                    std::vector<Dependency>* depends);
  void ParseStorage(const Value* value, std::vector<Storage>* storage);
  void ParseLabels(const Value* value, std::map<std::string, std::string>* labels);
  void ParseCapabilities(const Value* value, std::vector<std::string>* capabilities);
  void ParseUlimits(const Value* value, std::map<std::string, Ulimit>* ulimits);
  void ParseNetworkMode(const Value* value, NetworkMode* mode);
  std::optional<uint64_t> ReadRlimit(const Value* value);
  void CheckExecStrings(const Value* list, const std::vector<std::string>& strings);
  void CheckExecTotal(const Value& at, std::string_view what,
                      std::initializer_list<const std::vector<std::string>*> parts);

  void CheckContainerIds(const Deployment& deployment);
  void CheckNodePorts(const Service& service, const Value& value);
  void CheckDependencies(const Deployment& deployment);

  Reader& reader_;
  const Environment& env_;

  // Where each service was declared and where each dependency was written, for the checks
  // across services that run once every service is read.
  struct DependencyRef {
    std::string from;
    std::string to;
    Value value;
  };
  std::vector<DependencyRef> dependency_refs_;
  // Where the service being read wrote its replicas, its endpoints' listening ports and its
  // tcp health check port, for the checks of ports on the node's network.
  struct ServiceMarks {
    std::optional<Value> replicas;
    std::vector<Value> endpoint_ports;  // one per endpoint read, in order
    std::optional<Value> health_port;
  };
  ServiceMarks marks_;
  // Every port a service on the node's network listens on, in document order.
  struct PortUse {
    std::string service;
    ListenPort port;
    Value at;
  };
  std::vector<PortUse> port_uses_;
  std::map<std::string, Value> service_values_;
  std::optional<Value> deployment_value_;
};

Deployment SpecParser::Parse(const Value& root) {
  Deployment deployment;
  std::optional<Fields> top = reader_.Map(&root, kTopKeys, kTopUnsupported);
  if (!top) return deployment;

  if (const Value* version = top->Get("version")) {
    reader_.String(
        version, [](std::string_view v) { return v == "v1"; }, "expected \"v1\"");
  } else {
    reader_.ReportMissing(*top, "version", "write version: v1");
  }

  if (const Value* name = top->Get("deployment")) {
    Assign(reader_.String(name, IsValidName,
                          fmt::format("expected a deployment name matching {}", kNameRule)),
           &deployment.name);
    deployment_value_ = *name;
  } else {
    reader_.ReportMissing(*top, "deployment", "the deployment's name");
  }

  const Value* services = top->Get("services");
  if (services == nullptr) reader_.ReportMissing(*top, "services", "at least one service");
  if (auto entries = reader_.Entries(services)) {
    if (entries->empty()) reader_.Report(*services, "at least one service is required");
    for (const auto& [name, value] : *entries) {
      if (!IsValidName(name)) {
        reader_.Report(
            value.key_mark, value.path,
            fmt::format("expected a service name matching {}, got \"{}\"", kNameRule, name));
      }
      service_values_.emplace(name, value);
      deployment.services.emplace(name, ParseService(name, value));
    }
  }

  CheckContainerIds(deployment);
  CheckDependencies(deployment);
  return deployment;
}

Service SpecParser::ParseService(const std::string& name, const Value& value) {
  marks_ = {};
  Service service;
  service.name = name;
  service.hostname = name;
  std::optional<Fields> fields = reader_.Map(&value, kServiceKeys, kServiceUnsupported);
  if (!fields) return service;
  const Fields& f = *fields;

  const Value* rtype = f.Get("rtype");
  Assign(reader_.Enum<ResourceType>(rtype, {ResourceType::kService, ResourceType::kJob}, {"cron"}),
         &service.rtype);
  // With rtype cron already refused, a schedule adds nothing worth a second problem.
  if (const Value* schedule = f.Get("schedule"); schedule != nullptr && !IsText(rtype, "cron")) {
    reader_.Report(schedule->key_mark, schedule->path,
                   "only allowed with rtype: cron, which is recognised, not supported on this "
                   "node yet");
  }
  service.restart_policy.kind =
      service.rtype == ResourceType::kJob ? RestartKind::kOnFailure : RestartKind::kAlways;

  ParseImage(f, &service.image);
  ParseCommand(f.Get("command"), &service.command);
  ParseEnv(f.Get("env"), &service.env);
  {
    std::vector<std::string> env_entries;
    for (const auto& [key, text] : service.env) env_entries.push_back(key + "=" + text);
    const std::vector<std::string> none;
    const Command& command = service.command;
    CheckExecTotal(value, "entrypoint, args and env",
                   {command.entrypoint ? &*command.entrypoint : &none,
                    command.args ? &*command.args : &none, &env_entries});
  }
  ParseResources(f.Get("resources"), &service.resources);
  ParseScale(f.Get("scale"), &service.scale);
  ParseEndpoints(f.Get("endpoints"), &service.endpoints);
  service.health = ParseHealth(f.Get("health"), service.endpoints);
  ParseRestartPolicy(f.Get("restart_policy"), &service.restart_policy);
  ParseDepends(name, f.Get("depends"), &service.depends);
  ParseStorage(f.Get("storage"), &service.storage);

  Assign(reader_.String(f.Get("user"), IsUser, "expected uid, uid:gid, user or user:group"),
         &service.user);
  Assign(reader_.String(f.Get("hostname"), IsValidHostname,
                        "expected a host name: labels of letters, digits and '-' joined by '.', "
                        "at most 64 characters"),
         &service.hostname);
  ParseLabels(f.Get("labels"), &service.labels);
  Assign(reader_.Bool(f.Get("privileged")), &service.privileged);
  // `capabilities` is ZLayer's name for cap_add: both may be given, and both add.
  ParseCapabilities(f.Get("cap_add"), &service.cap_add);
  ParseCapabilities(f.Get("capabilities"), &service.cap_add);
  ParseCapabilities(f.Get("cap_drop"), &service.cap_drop);
  for (const std::string& capability : service.cap_add) {
    bool dropped = std::find(service.cap_drop.begin(), service.cap_drop.end(), capability) !=
                   service.cap_drop.end();
    if (dropped) {
      const Value* drop = f.Get("cap_drop");
      reader_.Report(*drop, fmt::format("{} is both added and dropped", capability));
    }
  }
  if (const Value* signal = f.Get("stop_signal")) {
    std::optional<std::string> text = reader_.String(signal);
    std::optional<int> number = text ? ParseSignal(*text) : std::nullopt;
    if (text && !number) {
      reader_.Report(*signal, "expected a signal such as SIGTERM, SIGINT or 15, got " +
                                  Describe(signal->node));
    }
    Assign(number, &service.stop_signal);
  }
  Assign(reader_.Duration(f.Get("stop_grace_period"), /*allow_zero=*/true),
         &service.stop_grace_period);
  Assign(reader_.Bool(f.Get("read_only_root_fs")), &service.read_only_root_fs);
  ParseUlimits(f.Get("ulimits"), &service.ulimits);
  ParseNetworkMode(f.Get("network_mode"), &service.network_mode);
  CheckNodePorts(service, value);
  return service;
}

void SpecParser::ParseImage(const Fields& service, Image* image) {
  const Value* value = service.Get("image");
  if (value == nullptr) {
    reader_.ReportMissing(service, "image", "image.name is the image to run");
    return;
  }
  std::optional<Fields> f = reader_.Map(value, {"name", "pull_policy"}, {"source_policy"});
  if (!f) return;
  if (const Value* name = f->Get("name")) {
    Assign(reader_.String(name, IsValidImageReference,
                          "expected an image reference such as nginx, nginx:1.25, "
                          "127.0.0.1:5000/app:v1 or app@sha256:<64 hex digits>"),
           &image->name);
  } else {
    reader_.ReportMissing(*f, "name", "the image to run, e.g. nginx:1.25");
  }
  Assign(reader_.Enum<PullPolicy>(f->Get("pull_policy"),
                                  {PullPolicy::kAlways, PullPolicy::kIfNotPresent,
                                   PullPolicy::kNever, PullPolicy::kNewer}),
         &image->pull_policy);
}

void SpecParser::ParseCommand(const Value* value, Command* command) {
  std::optional<Fields> f = reader_.Map(value, {"entrypoint", "args", "workdir"});
  if (!f) return;
  Assign(reader_.StringList(f->Get("entrypoint")), &command->entrypoint);
  if (command->entrypoint) CheckExecStrings(f->Get("entrypoint"), *command->entrypoint);
  Assign(reader_.StringList(f->Get("args")), &command->args);
  if (command->args) CheckExecStrings(f->Get("args"), *command->args);
  Assign(reader_.String(f->Get("workdir"), IsAbsolute, "expected an absolute path"),
         &command->workdir);
}

void SpecParser::ParseEnv(const Value* value, std::map<std::string, std::string>* env) {
  auto entries = reader_.Entries(value);
  if (!entries) return;
  for (const auto& [name, item] : *entries) {
    if (name.find('=') != std::string::npos || name.find('\0') != std::string::npos) {
      reader_.Report(item.key_mark, item.path,
                     "an environment variable name cannot contain '=' or NUL");
      continue;
    }
    std::optional<std::string> text = reader_.String(&item);
    if (!text) continue;
    if (text->starts_with("$S:")) {
      reader_.Report(item, fmt::format("secret references ($S:) are {}", kNotSupported));
      continue;
    }
    if (text->starts_with("$E:")) {
      std::string variable = text->substr(3);
      auto found = env_.find(variable);
      if (variable.empty()) {
        reader_.Report(item, "expected a variable name after $E:");
      } else if (found == env_.end()) {
        reader_.Report(item, fmt::format("{}: {} is not set in the environment", *text, variable));
      } else {
        AddEnv(item, name, found->second, env);
      }
      continue;
    }
    AddEnv(item, name, std::move(*text), env);
  }
}

void SpecParser::AddEnv(const Value& item, const std::string& name, std::string value,
                        std::map<std::string, std::string>* env) {
  size_t bytes = name.size() + 1 + value.size() + 1;  // NAME=value and its NUL
  if (bytes > kMaxExecStringBytes) {
    reader_.Report(item, fmt::format("NAME=value has {} bytes with its NUL; the kernel allows at "
                                     "most {} (MAX_ARG_STRLEN, 128 KiB) per environment entry",
                                     bytes, kMaxExecStringBytes));
    return;
  }
  env->emplace(name, std::move(value));
}

void SpecParser::ParseResources(const Value* value, Resources* resources) {
  std::optional<Fields> f = reader_.Map(value, kResourcesKeys, kResourcesUnsupported);
  if (!f) return;
  Assign(reader_.PositiveNumber(f->Get("cpu")), &resources->cpu);
  Assign(reader_.Size(f->Get("memory")), &resources->memory_bytes);
  Assign(reader_.Integer(f->Get("pids_limit"), 1, INT64_MAX), &resources->pids_limit);
}

void SpecParser::ParseScale(const Value* value, Scale* scale) {
  std::optional<Fields> f =
      reader_.Map(value, {"mode", "replicas", "min", "max", "cooldown", "targets"});
  if (!f) return;
  const Value* mode = f->Get("mode");
  // adaptive's own keys go unreported once the mode is: one problem says it all.
  if (IsText(mode, "adaptive")) {
    reader_.Report(*mode, fmt::format("\"adaptive\" is {}", kNotSupported));
    return;
  }
  if (mode != nullptr) {
    std::optional<ScaleMode> parsed =
        reader_.Enum<ScaleMode>(mode, {ScaleMode::kFixed, ScaleMode::kManual});
    if (!parsed) return;
    scale->mode = *parsed;
  }
  CheckVariantKeys(reader_, *f, "mode", Name(scale->mode),
                   {{"fixed", {"replicas"}},
                    {"manual", {}},
                    {"adaptive", {"min", "max", "cooldown", "targets"}}});
  if (scale->mode == ScaleMode::kFixed) {
    Assign(Narrow<uint32_t>(reader_.Integer(f->Get("replicas"), 0, kMaxReplicas)),
           &scale->replicas);
    if (const Value* replicas = f->Get("replicas")) marks_.replicas = *replicas;
  }
}

void SpecParser::ParseEndpoints(const Value* value, std::vector<Endpoint>* endpoints) {
  auto items = reader_.List(value);
  if (!items) return;
  std::map<std::string, YAML::Mark> names;
  for (const Value& item : *items) {
    std::optional<Fields> f = reader_.Map(
        &item,
        {"name", "protocol", "port", "target_port", "path", "host", "expose", "redirect_http"},
        {"stream", "target_role", "tunnel"});
    if (!f) continue;
    Endpoint endpoint;
    if (const Value* name = f->Get("name")) {
      std::optional<std::string> text = reader_.String(name);
      if (text && text->empty()) {
        reader_.Report(*name, "expected a non-empty name");
      } else if (text) {
        auto [previous, inserted] = names.emplace(*text, name->mark);
        if (!inserted) {
          reader_.Report(*name, fmt::format("duplicate endpoint name \"{}\" (first at line {})",
                                            *text, previous->second.line + 1));
        }
        endpoint.name = *text;
      }
    } else {
      reader_.ReportMissing(*f, "name");
    }
    const Value* protocol = f->Get("protocol");
    if (protocol == nullptr)
      reader_.ReportMissing(*f, "protocol", "http, https, tcp, udp or websocket");
    Assign(reader_.Enum<Protocol>(protocol, {Protocol::kHttp, Protocol::kHttps, Protocol::kTcp,
                                             Protocol::kUdp, Protocol::kWebsocket}),
           &endpoint.protocol);
    const Value* port = f->Get("port");
    if (port == nullptr) reader_.ReportMissing(*f, "port", "1 to 65535");
    Assign(Narrow<uint16_t>(reader_.Integer(port, 1, 65535)), &endpoint.port);
    endpoint.target_port = endpoint.port;
    Assign(Narrow<uint16_t>(reader_.Integer(f->Get("target_port"), 1, 65535)),
           &endpoint.target_port);
    bool routed = endpoint.protocol == Protocol::kHttp || endpoint.protocol == Protocol::kHttps ||
                  endpoint.protocol == Protocol::kWebsocket;
    for (std::string_view key : {"path", "host"}) {
      const Value* field = f->Get(key);
      if (field == nullptr) continue;
      if (!routed) {
        reader_.Report(field->key_mark, field->path,
                       "only allowed with protocol: http, https or websocket");
        continue;
      }
      if (key == "path") {
        Assign(reader_.String(field, IsAbsolute, "expected a path starting with '/'"),
               &endpoint.path);
      } else {
        Assign(reader_.String(field, IsRouteHost,
                              "expected a host name (api.example.com) or a wildcard "
                              "(*.example.com)"),
               &endpoint.host);
        if (endpoint.host) {
          std::transform(endpoint.host->begin(), endpoint.host->end(), endpoint.host->begin(),
                         [](unsigned char c) { return std::tolower(c); });
        }
      }
    }
    if (const Value* redirect = f->Get("redirect_http")) {
      if (endpoint.protocol != Protocol::kHttps) {
        reader_.Report(redirect->key_mark, redirect->path, "only allowed with protocol: https");
      } else {
        Assign(reader_.Bool(redirect), &endpoint.redirect_http);
      }
    }
    Assign(reader_.Enum<Exposure>(f->Get("expose"), {Exposure::kPublic, Exposure::kInternal}),
           &endpoint.expose);
    const Value* listening = f->Get("target_port") != nullptr ? f->Get("target_port") : port;
    marks_.endpoint_ports.push_back(listening != nullptr ? *listening : item);
    endpoints->push_back(std::move(endpoint));
  }
}

std::optional<Health> SpecParser::ParseHealth(const Value* value,
                                              const std::vector<Endpoint>& endpoints) {
  std::optional<uint16_t> default_port = DefaultCheckPort(endpoints);
  if (value == nullptr) {
    if (!default_port) return std::nullopt;
    Health health;
    health.check.port = *default_port;
    return health;
  }
  Health health;
  std::optional<Fields> f =
      reader_.Map(value, {"start_grace", "interval", "timeout", "retries", "check"});
  if (!f) return health;
  Assign(reader_.Duration(f->Get("start_grace"), /*allow_zero=*/true), &health.start_grace);
  Assign(reader_.Duration(f->Get("interval"), /*allow_zero=*/false), &health.interval);
  Assign(reader_.Duration(f->Get("timeout"), /*allow_zero=*/false), &health.timeout);
  Assign(Narrow<uint32_t>(reader_.Integer(f->Get("retries"), 1, UINT32_MAX)), &health.retries);
  if (const Value* check = f->Get("check")) {
    ParseHealthCheck(*check, default_port, &health.check);
  } else if (default_port) {
    health.check.port = *default_port;
  } else {
    reader_.ReportMissing(*f, "check", "the service has no tcp or http endpoint to check");
  }
  return health;
}

void SpecParser::ParseHealthCheck(const Value& value, std::optional<uint16_t> default_port,
                                  HealthCheck* check) {
  std::optional<Fields> f =
      reader_.Map(&value, {"type", "port", "url", "expect_status", "command"});
  if (!f) return;
  if (const Value* type = f->Get("type")) {
    std::optional<HealthCheckType> parsed = reader_.Enum<HealthCheckType>(
        type, {HealthCheckType::kTcp, HealthCheckType::kHttp, HealthCheckType::kCommand});
    if (!parsed) return;  // which other keys fit cannot be judged without the type
    check->type = *parsed;
  }
  CheckVariantKeys(
      reader_, *f, "type", Name(check->type),
      {{"tcp", {"port"}}, {"http", {"url", "expect_status"}}, {"command", {"command"}}});
  switch (check->type) {
    case HealthCheckType::kTcp:
      if (const Value* port = f->Get("port")) {
        Assign(Narrow<uint16_t>(reader_.Integer(port, 1, 65535)), &check->port);
        marks_.health_port = *port;
      } else if (default_port) {
        check->port = *default_port;
      } else {
        reader_.ReportMissing(*f, "port", "the service has no tcp or http endpoint to default to");
      }
      break;
    case HealthCheckType::kHttp:
      if (const Value* url = f->Get("url")) {
        Assign(reader_.String(url, IsHttpUrl, "expected an http:// or https:// URL"), &check->url);
      } else {
        reader_.ReportMissing(*f, "url", "e.g. http://127.0.0.1:8080/healthz");
      }
      Assign(Narrow<int>(reader_.Integer(f->Get("expect_status"), 100, 599)),
             &check->expect_status);
      break;
    case HealthCheckType::kCommand:
      if (const Value* command = f->Get("command")) {
        if (command->node.IsSequence()) {
          std::optional<std::vector<std::string>> argv = reader_.StringList(command);
          if (argv && argv->empty()) reader_.Report(*command, "expected a non-empty list");
          if (argv) {
            CheckExecStrings(command, *argv);
            CheckExecTotal(*command, "the health check command", {&*argv});
          }
          Assign(argv, &check->command);
        } else if (command->node.IsScalar()) {
          std::optional<std::string> text = reader_.String(command);
          if (text && text->empty()) reader_.Report(*command, "expected a non-empty command");
          if (text && text->size() + 1 > kMaxExecStringBytes) {
            reader_.Report(*command,
                           fmt::format("a command of {} bytes; the kernel allows at most {} "
                                       "(MAX_ARG_STRLEN, 128 KiB) per argument, NUL included",
                                       text->size(), kMaxExecStringBytes));
          }
          // Docker's HEALTHCHECK CMD-SHELL: a string runs through the container's shell.
          if (text) check->command = {"/bin/sh", "-c", *text};
        } else {
          reader_.Report(*command,
                         "expected a string or a list of strings, got " + Describe(command->node));
        }
      } else {
        reader_.ReportMissing(*f, "command", "a string for /bin/sh -c, or a list of strings");
      }
      break;
  }
}

void SpecParser::ParseRestartPolicy(const Value* value, RestartPolicy* policy) {
  std::optional<Fields> f = reader_.Map(value, {"kind", "max_attempts", "delay"});
  if (!f) return;
  Assign(reader_.Enum<RestartKind>(
             f->Get("kind"), {RestartKind::kNo, RestartKind::kAlways, RestartKind::kUnlessStopped,
                              RestartKind::kOnFailure}),
         &policy->kind);
  Assign(Narrow<uint32_t>(reader_.Integer(f->Get("max_attempts"), 0, UINT32_MAX)),
         &policy->max_attempts);
  Assign(reader_.Duration(f->Get("delay"), /*allow_zero=*/false), &policy->delay);
}

void SpecParser::ParseDepends(const std::string& service, const Value* value,
                              std::vector<Dependency>* depends) {
  auto items = reader_.List(value);
  if (!items) return;
  std::set<std::string> seen;
  for (const Value& item : *items) {
    std::optional<Fields> f = reader_.Map(&item, {"service", "condition", "timeout", "on_timeout"});
    if (!f) continue;
    Dependency dependency;
    if (const Value* target = f->Get("service")) {
      if (std::optional<std::string> name = reader_.String(target)) {
        if (!seen.insert(*name).second) {
          reader_.Report(*target, fmt::format("\"{}\" is listed twice", *name));
        } else {
          dependency_refs_.push_back(DependencyRef{service, *name, *target});
        }
        dependency.service = *name;
      }
    } else {
      reader_.ReportMissing(*f, "service", "the name of another service of this deployment");
    }
    Assign(reader_.Enum<DependencyCondition>(
               f->Get("condition"), {DependencyCondition::kStarted, DependencyCondition::kHealthy,
                                     DependencyCondition::kReady}),
           &dependency.condition);
    Assign(reader_.Duration(f->Get("timeout"), /*allow_zero=*/false), &dependency.timeout);
    Assign(reader_.Enum<TimeoutAction>(
               f->Get("on_timeout"),
               {TimeoutAction::kFail, TimeoutAction::kWarn, TimeoutAction::kContinue}),
           &dependency.on_timeout);
    depends->push_back(std::move(dependency));
  }
}

void SpecParser::ParseStorage(const Value* value, std::vector<Storage>* storage) {
  auto items = reader_.List(value);
  if (!items) return;
  std::map<std::string, YAML::Mark> targets;
  for (const Value& item : *items) {
    std::optional<Fields> f =
        reader_.Map(&item, {"type", "source", "target", "readonly", "name", "size", "mode"},
                    {"tier", "bucket", "prefix", "endpoint", "credentials"});
    if (!f) continue;
    const Value* type_value = f->Get("type");
    if (type_value == nullptr) {
      reader_.ReportMissing(*f, "type", "bind, named, anonymous or tmpfs");
      continue;
    }
    std::optional<StorageType> type = reader_.Enum<StorageType>(
        type_value,
        {StorageType::kBind, StorageType::kNamed, StorageType::kAnonymous, StorageType::kTmpfs},
        {"s3"});
    if (!type) continue;
    CheckVariantKeys(reader_, *f, "type", Name(*type),
                     {{"bind", {"source", "target", "readonly"}},
                      {"named", {"name", "target", "readonly"}, {"size"}},
                      {"anonymous", {"target"}},
                      {"tmpfs", {"target", "size", "mode"}}});

    std::string target;
    if (const Value* target_value = f->Get("target")) {
      std::optional<std::string> text = reader_.String(target_value);
      std::optional<std::string> problem = text ? ContainerPathProblem(*text) : std::nullopt;
      if (problem) {
        reader_.Report(*target_value, *problem + ", got " + Describe(target_value->node));
      } else if (text) {
        auto [previous, inserted] = targets.emplace(*text, target_value->mark);
        if (!inserted) {
          reader_.Report(*target_value, fmt::format("\"{}\" is already mounted (line {})", *text,
                                                    previous->second.line + 1));
        }
        target = *text;
      }
    } else {
      reader_.ReportMissing(*f, "target", "an absolute path in the container");
    }
    bool readonly = false;
    Assign(reader_.Bool(f->Get("readonly")), &readonly);

    switch (*type) {
      case StorageType::kBind: {
        BindMount bind{.source = {}, .target = target, .readonly = readonly};
        if (const Value* source = f->Get("source")) {
          Assign(reader_.String(source, IsAbsolute, "expected an absolute path on the node"),
                 &bind.source);
        } else {
          reader_.ReportMissing(*f, "source", "an absolute path on the node");
        }
        storage->push_back(std::move(bind));
        break;
      }
      case StorageType::kNamed: {
        NamedVolume named{.name = {}, .target = target, .readonly = readonly};
        if (const Value* name = f->Get("name")) {
          Assign(reader_.String(name, IsVolumeName,
                                "expected a volume name matching [A-Za-z0-9][A-Za-z0-9_.-]*"),
                 &named.name);
        } else {
          reader_.ReportMissing(*f, "name", "the volume's name");
        }
        storage->push_back(std::move(named));
        break;
      }
      case StorageType::kAnonymous:
        storage->push_back(AnonymousVolume{.target = target});
        break;
      case StorageType::kTmpfs: {
        TmpfsMount tmpfs{.target = target, .size_bytes = {}, .mode = {}};
        Assign(reader_.Size(f->Get("size")), &tmpfs.size_bytes);
        if (const Value* mode = f->Get("mode")) {
          std::optional<std::string> text = reader_.String(mode);
          std::string_view digits = text ? std::string_view(*text) : std::string_view();
          if (digits.starts_with("0o")) digits.remove_prefix(2);
          uint32_t bits = 0;
          bool octal = !digits.empty() && digits.size() <= 5 &&
                       digits.find_first_not_of("01234567") == std::string_view::npos;
          if (octal) bits = static_cast<uint32_t>(std::stoul(std::string(digits), nullptr, 8));
          if (text && (!octal || bits > 07777)) {
            reader_.Report(*mode, "expected permission bits in octal such as 1777 or 0755, got " +
                                      Describe(mode->node));
          } else if (text) {
            tmpfs.mode = bits;
          }
        }
        storage->push_back(std::move(tmpfs));
        break;
      }
    }
  }
}

void SpecParser::ParseLabels(const Value* value, std::map<std::string, std::string>* labels) {
  auto entries = reader_.Entries(value);
  if (!entries) return;
  for (const auto& [key, item] : *entries) {
    std::optional<std::string> text = reader_.String(&item);
    if (!text) continue;
    bool reserved =
        std::any_of(std::begin(kReservedLabelPrefixes), std::end(kReservedLabelPrefixes),
                    [&](std::string_view prefix) { return key.starts_with(prefix); });
    if (reserved) {
      reader_.Report(
          item.key_mark, item.path,
          "labels starting with zlayer., io.zlayer. or containerd.io/ are the node's own");
    } else if (key.size() + text->size() > kMaxLabelBytes) {
      reader_.Report(item, fmt::format("key and value have {} bytes; containerd allows at most {}",
                                       key.size() + text->size(), kMaxLabelBytes));
    } else {
      labels->emplace(key, std::move(*text));
    }
  }
}

void SpecParser::ParseCapabilities(const Value* value, std::vector<std::string>* capabilities) {
  auto items = reader_.List(value);
  if (!items) return;
  for (const Value& item : *items) {
    std::optional<std::string> text = reader_.String(&item);
    if (!text) continue;
    if (std::optional<std::string> canonical = CanonicalCapability(*text)) {
      bool present =
          std::find(capabilities->begin(), capabilities->end(), *canonical) != capabilities->end();
      if (!present) capabilities->push_back(std::move(*canonical));
    } else {
      reader_.Report(item, fmt::format("expected a capability such as NET_ADMIN, CAP_SYS_TIME or "
                                       "ALL, got {}",
                                       Describe(item.node)));
    }
  }
}

void SpecParser::CheckExecStrings(const Value* list, const std::vector<std::string>& strings) {
  if (list == nullptr || !list->node.IsSequence() || list->node.size() != strings.size()) return;
  for (size_t i = 0; i < strings.size(); ++i) {
    if (strings[i].size() + 1 <= kMaxExecStringBytes) continue;
    const YAML::Node item = list->node[i];
    reader_.Report(item.Mark(), fmt::format("{}[{}]", list->path, i),
                   fmt::format("an argument of {} bytes; the kernel allows at most {} "
                               "(MAX_ARG_STRLEN, 128 KiB) per argument, NUL included",
                               strings[i].size(), kMaxExecStringBytes));
  }
}

void SpecParser::CheckExecTotal(const Value& at, std::string_view what,
                                std::initializer_list<const std::vector<std::string>*> parts) {
  // What execve places on the new stack: each string with its NUL, and a pointer to it.
  size_t bytes = 0;
  for (const std::vector<std::string>* strings : parts) {
    for (const std::string& text : *strings) bytes += text.size() + 1 + sizeof(char*);
  }
  if (bytes <= kMaxExecBytes) return;
  reader_.Report(at.key_mark, at.path,
                 fmt::format("{} take {} bytes for exec (strings, NULs and pointers); at most {} "
                             "(1 MiB, half of the kernel's usual ARG_MAX, the rest is for the "
                             "image's environment)",
                             what, bytes, kMaxExecBytes));
}

std::optional<uint64_t> SpecParser::ReadRlimit(const Value* value) {
  if (IsText(value, "unlimited")) return Ulimit::kUnlimited;
  std::optional<int64_t> number = reader_.Integer(value, -1, INT64_MAX);
  if (!number) return std::nullopt;
  return *number == -1 ? Ulimit::kUnlimited : static_cast<uint64_t>(*number);
}

void SpecParser::ParseUlimits(const Value* value, std::map<std::string, Ulimit>* ulimits) {
  auto entries = reader_.Entries(value);
  if (!entries) return;
  for (const auto& [name, item] : *entries) {
    if (!UlimitResource(name)) {
      reader_.Report(
          item.key_mark, item.path,
          fmt::format("unknown ulimit (expected one of {})", fmt::join(UlimitNames(), ", ")));
      continue;
    }
    std::optional<Fields> f = reader_.Map(&item, {"soft", "hard"});
    if (!f) continue;
    if (f->Get("soft") == nullptr)
      reader_.ReportMissing(*f, "soft", "-1 or unlimited for no limit");
    if (f->Get("hard") == nullptr)
      reader_.ReportMissing(*f, "hard", "-1 or unlimited for no limit");
    std::optional<uint64_t> soft = ReadRlimit(f->Get("soft"));
    std::optional<uint64_t> hard = ReadRlimit(f->Get("hard"));
    if (soft && hard && *soft > *hard) {
      reader_.Report(*f->Get("soft"), "the soft limit cannot exceed the hard limit");
    } else if (soft && hard) {
      ulimits->emplace(name, Ulimit{*soft, *hard});
    }
  }
}

void SpecParser::ParseNetworkMode(const Value* value, NetworkMode* mode) {
  std::optional<std::string> text = reader_.String(
      value, [](std::string_view) { return true; }, "");
  if (!text) return;
  if (*text == "default") {
    *mode = NetworkMode::kDefault;
    return;
  }
  if (*text == "host") {
    *mode = NetworkMode::kHost;
    return;
  }
  if (*text == "none") {
    *mode = NetworkMode::kNone;
    return;
  }
  if (*text == "bridge" || *text == "overlay" || text->starts_with("bridge:") ||
      text->starts_with("container:")) {
    reader_.Report(*value, fmt::format("\"{}\" is {}", *text, kNotSupported));
    return;
  }
  reader_.Report(*value, "expected one of default, host, none, got " + Describe(value->node));
}

void SpecParser::CheckNodePorts(const Service& service, const Value& value) {
  if (service.network_mode != NetworkMode::kHost) return;
  if (std::optional<std::string> why = ReplicasProblem(service, service.scale.replicas)) {
    const Value& at = marks_.replicas ? *marks_.replicas : value;
    reader_.Report(at.mark, at.path.empty() ? value.path : at.path, *why);
  }
  // Ports another service of this deployment already listens on. Within one service a port
  // may appear twice (one listener serving two endpoints).
  std::vector<PortUse> own;
  auto use = [&](ListenPort port, const Value& at) {
    for (const PortUse& other : port_uses_) {
      if (other.port != port) continue;
      reader_.Report(at, fmt::format("port {} is also used by service {} (line {}); services on "
                                     "the node's network share its ports: give one of them "
                                     "another port",
                                     Name(port), other.service, other.at.mark.line + 1));
      return;
    }
    own.push_back(PortUse{service.name, port, at});
  };
  if (marks_.endpoint_ports.size() == service.endpoints.size()) {
    for (size_t i = 0; i < service.endpoints.size(); ++i) {
      const Endpoint& endpoint = service.endpoints[i];
      use(ListenPort{endpoint.target_port, endpoint.protocol == Protocol::kUdp},
          marks_.endpoint_ports[i]);
    }
  }
  if (marks_.health_port && service.health && service.health->check.type == HealthCheckType::kTcp) {
    use(ListenPort{service.health->check.port, false}, *marks_.health_port);
  }
  port_uses_.insert(port_uses_.end(), own.begin(), own.end());
}

void SpecParser::CheckContainerIds(const Deployment& deployment) {
  if (deployment.name.empty()) return;  // the deployment name was reported already
  constexpr std::string_view kIdRule =
      "which containerd refuses: no '-' at the end of a name or two in a row";
  // Syntax is judged beside a one-letter stand-in, so that the problem lands on the name at
  // fault and length (judged on the longest id a service can get) does not interfere.
  if (!ValidateContainerId(ContainerId(deployment.name, "a", 0)).ok() && deployment_value_) {
    std::string example = service_values_.empty() ? "web" : service_values_.begin()->first;
    reader_.Report(*deployment_value_,
                   fmt::format("makes container ids such as \"{}\", {}",
                               ContainerId(deployment.name, example, 0), kIdRule));
    return;
  }
  for (const auto& [name, value] : service_values_) {
    if (!IsValidName(name)) continue;
    std::string first = ContainerId(deployment.name, name, 0);
    std::string last = ContainerId(deployment.name, name, kMaxReplicas - 1);
    if (!ValidateContainerId(ContainerId("a", name, 0)).ok()) {
      reader_.Report(value.key_mark, value.path,
                     fmt::format("makes container ids such as \"{}\", {}", first, kIdRule));
    } else if (last.size() > kMaxContainerIdLength) {
      reader_.Report(value.key_mark, value.path,
                     fmt::format("container ids \"{}\" to \"{}\" would be up to {} characters "
                                 "long; containerd allows {}: shorten the deployment or service "
                                 "name by {} characters",
                                 first, last, last.size(), kMaxContainerIdLength,
                                 last.size() - kMaxContainerIdLength));
    }
  }
}

void SpecParser::CheckDependencies(const Deployment& deployment) {
  std::map<std::string, std::vector<const DependencyRef*>> graph;
  for (const DependencyRef& ref : dependency_refs_) {
    if (ref.to == ref.from) {
      reader_.Report(ref.value, "a service cannot depend on itself");
    } else if (deployment.services.count(ref.to) == 0) {
      reader_.Report(ref.value, fmt::format("no service named \"{}\" in this deployment", ref.to));
    } else {
      graph[ref.from].push_back(&ref);
    }
  }
  // Depth-first search with an explicit stack (a chain of thousands of services must not
  // exhaust a thread's stack); each edge back into the current path closes one cycle.
  enum class Mark { kUnseen, kOnPath, kDone };
  std::map<std::string, Mark> marks;
  for (const auto& [start, unused] : deployment.services) {
    if (marks[start] != Mark::kUnseen) continue;
    marks[start] = Mark::kOnPath;
    std::vector<std::pair<std::string, size_t>> path = {{start, 0}};  // service, next edge
    while (!path.empty()) {
      const std::vector<const DependencyRef*>& edges = graph[path.back().first];
      if (path.back().second == edges.size()) {
        marks[path.back().first] = Mark::kDone;
        path.pop_back();
        continue;
      }
      const DependencyRef* ref = edges[path.back().second++];
      Mark mark = marks[ref->to];
      if (mark == Mark::kUnseen) {
        marks[ref->to] = Mark::kOnPath;
        path.emplace_back(ref->to, 0);
      } else if (mark == Mark::kOnPath) {
        auto from = std::find_if(path.begin(), path.end(),
                                 [&](const auto& entry) { return entry.first == ref->to; });
        std::vector<std::string> cycle;
        for (auto it = from; it != path.end(); ++it) cycle.push_back(it->first);
        cycle.push_back(ref->to);
        reader_.Report(ref->value, fmt::format("dependency cycle: {}", fmt::join(cycle, " -> ")));
      }
    }
  }
}

// yaml-cpp's complaint about a tab-indented line does not mention the tab.
bool IndentedWithTab(std::string_view text, int line) {
  for (int i = 0; i < line; ++i) {
    size_t newline = text.find('\n');
    if (newline == std::string_view::npos) return false;
    text.remove_prefix(newline + 1);
  }
  size_t indent_end = text.find_first_not_of(" \t");
  return text.substr(0, indent_end).find('\t') != std::string_view::npos;
}

}  // namespace

std::vector<ListenPort> NodePorts(const Service& service) {
  std::vector<ListenPort> ports;
  if (service.network_mode != NetworkMode::kHost) return ports;
  auto add = [&](ListenPort port) {
    if (port.number != 0 && std::find(ports.begin(), ports.end(), port) == ports.end()) {
      ports.push_back(port);
    }
  };
  for (const Endpoint& endpoint : service.endpoints) {
    add(ListenPort{endpoint.target_port, endpoint.protocol == Protocol::kUdp});
  }
  if (service.health && service.health->check.type == HealthCheckType::kTcp) {
    add(ListenPort{service.health->check.port, false});
  }
  return ports;
}

std::string Name(const ListenPort& port) {
  return fmt::format("{}/{}", port.number, port.udp ? "udp" : "tcp");
}

std::vector<std::string> NodePortConflicts(const Deployment& incoming,
                                           const std::vector<PortClaim>& claims) {
  std::vector<std::string> conflicts;
  for (const auto& [name, service] : incoming.services) {
    for (const ListenPort& port : NodePorts(service)) {
      for (const PortClaim& claim : claims) {
        if (claim.deployment == incoming.name || !(claim.port == port)) continue;
        conflicts.push_back(fmt::format(
            "service {} listens on {}, which service {} of deployment {} holds on the node's "
            "network; give one of them another port",
            name, Name(port), claim.service, claim.deployment));
      }
    }
  }
  return conflicts;
}

std::optional<std::string> ReplicasProblem(const Service& service, uint32_t replicas) {
  std::vector<ListenPort> ports = NodePorts(service);
  if (replicas <= 1 || ports.empty()) return std::nullopt;
  std::vector<std::string> names;
  for (const ListenPort& port : ports) names.push_back(Name(port));
  return fmt::format(
      "{} replicas would share the node's network and so its port{} {}: all but one would fail "
      "with \"address in use\", and a health check could pass because another replica answers; "
      "run one replica, or give the service no endpoint{}",
      replicas, ports.size() == 1 ? "" : "s", fmt::join(names, ", "),
      service.health && service.health->check.type == HealthCheckType::kTcp
          ? " and no tcp health check port"
          : "");
}

ParseResult ParseSpec(std::string_view yaml_text, std::string_view file_name,
                      const Environment& env) {
  Reader reader{std::string(file_name)};
  ParseResult result;
  if (yaml_text.size() > kMaxSpecBytes) {
    // Pointed at the first byte beyond the limit, so that the problem has a place too.
    std::string_view within = yaml_text.substr(0, kMaxSpecBytes);
    size_t line_start = within.rfind('\n');
    line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
    YAML::Mark beyond;
    beyond.pos = static_cast<int>(kMaxSpecBytes);
    beyond.line = static_cast<int>(std::count(within.begin(), within.end(), '\n'));
    beyond.column = static_cast<int>(kMaxSpecBytes - line_start);
    reader.Report(beyond, "",
                  fmt::format("the spec has more than {} bytes (1 MiB), the most a spec may have; "
                              "this is the first byte beyond",
                              kMaxSpecBytes));
    result.problems = reader.TakeProblems();
    return result;
  }
  Deployment deployment;
  try {
    if (!internal::CheckExpansion(yaml_text, reader)) {
      result.problems = reader.TakeProblems();
      return result;
    }
    std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml_text));
    if (documents.empty() || documents[0].IsNull()) {
      reader.Report(YAML::Mark(), "",
                    "the spec is empty; expected version, deployment and services");
    } else {
      SpecParser parser(reader, env);
      deployment = parser.Parse(Value{documents[0], documents[0].Mark(), documents[0].Mark(), ""});
    }
    if (documents.size() > 1) {
      reader.Report(documents[1].Mark(), "",
                    "a spec is one YAML document; remove this second one (or the ---)");
    }
  } catch (const YAML::Exception& e) {
    std::string message = "invalid YAML: " + e.msg;
    if (IndentedWithTab(yaml_text, e.mark.line)) {
      message += " (YAML does not allow tabs for indentation)";
    }
    reader.Report(e.mark, "", std::move(message));
  } catch (const std::exception& e) {
    // Node access is guarded; this is yaml-cpp failing in a way the parser did not foresee.
    reader.Report(YAML::Mark(), "", std::string("cannot read the spec: ") + e.what());
  }
  if (!reader.HasProblems()) result.deployment = std::move(deployment);
  result.problems = reader.TakeProblems();
  return result;
}

ParseResult ParseSpecFile(const std::string& path, const Environment& env) {
  auto unreadable = [&](int error) {
    ParseResult result;
    result.problems.push_back(Problem{path, 0, 0, "", ErrnoError("cannot read", error).message()});
    return result;
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unreadable(errno);
  struct stat info {};
  if (::fstat(fd, &info) != 0 || S_ISDIR(info.st_mode)) {
    int error = S_ISDIR(info.st_mode) ? EISDIR : errno;
    ::close(fd);
    return unreadable(error);
  }
  std::string text;
  char buffer[65536];
  while (text.size() <= kMaxSpecBytes) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      ::close(fd);
      return unreadable(error);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return ParseSpec(text, path, env);
}

}  // namespace zlayer::spec
