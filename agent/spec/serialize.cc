#include "agent/spec/serialize.h"

#include <fmt/format.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "agent/oci/digest.h"
#include "agent/spec/kernel_names.h"

namespace zlayer::spec {
namespace {

using nlohmann::json;

// Exact, unlike FormatDuration: the largest unit that divides the value, so that JSON and
// hash never lose precision. ParseDuration reads it back.
std::string ExactDuration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  struct Unit {
    int64_t nanos;
    const char* suffix;
  };
  constexpr Unit kUnits[] = {{3'600'000'000'000, "h"}, {60'000'000'000, "m"}, {1'000'000'000, "s"},
                             {1'000'000, "ms"},        {1'000, "us"},         {1, "ns"}};
  for (const Unit& unit : kUnits) {
    if (ns % unit.nanos == 0) return fmt::format("{}{}", ns / unit.nanos, unit.suffix);
  }
  std::abort();  // the last unit divides everything
}

json RlimitJson(uint64_t value) {
  if (value == Ulimit::kUnlimited) return "unlimited";
  return value;
}

json StorageJson(const Storage& storage) {
  return std::visit(
      [](const auto& mount) -> json {
        using T = std::decay_t<decltype(mount)>;
        json out;
        if constexpr (std::is_same_v<T, BindMount>) {
          out = {{"type", "bind"},
                 {"source", mount.source},
                 {"target", mount.target},
                 {"readonly", mount.readonly}};
        } else if constexpr (std::is_same_v<T, NamedVolume>) {
          out = {{"type", "named"},
                 {"name", mount.name},
                 {"target", mount.target},
                 {"readonly", mount.readonly}};
        } else if constexpr (std::is_same_v<T, AnonymousVolume>) {
          out = {{"type", "anonymous"}, {"target", mount.target}};
        } else {
          out = {{"type", "tmpfs"}, {"target", mount.target}};
          if (mount.size_bytes) out["size"] = *mount.size_bytes;
          if (mount.mode) out["mode"] = fmt::format("{:04o}", *mount.mode);
        }
        return out;
      },
      storage);
}

json HealthJson(const Health& health) {
  json check = {{"type", Name(health.check.type)}};
  switch (health.check.type) {
    case HealthCheckType::kTcp:
      check["port"] = health.check.port;
      break;
    case HealthCheckType::kHttp:
      check["url"] = health.check.url;
      check["expect_status"] = health.check.expect_status;
      break;
    case HealthCheckType::kCommand:
      check["command"] = health.check.command;
      break;
  }
  return {{"start_grace", ExactDuration(health.start_grace)},
          {"interval", ExactDuration(health.interval)},
          {"timeout", ExactDuration(health.timeout)},
          {"retries", health.retries},
          {"check", check}};
}

json ToJson(const Service& service) {
  json out;
  out["name"] = service.name;
  out["rtype"] = Name(service.rtype);
  out["image"] = {{"name", service.image.name}, {"pull_policy", Name(service.image.pull_policy)}};

  json command = json::object();
  if (service.command.entrypoint) command["entrypoint"] = *service.command.entrypoint;
  if (service.command.args) command["args"] = *service.command.args;
  if (service.command.workdir) command["workdir"] = *service.command.workdir;
  if (!command.empty()) out["command"] = command;
  if (!service.env.empty()) out["env"] = service.env;

  json resources = json::object();
  if (service.resources.cpu) resources["cpu"] = *service.resources.cpu;
  if (service.resources.memory_bytes) resources["memory"] = *service.resources.memory_bytes;
  if (service.resources.pids_limit) resources["pids_limit"] = *service.resources.pids_limit;
  if (!resources.empty()) out["resources"] = resources;

  out["scale"] = {{"mode", Name(service.scale.mode)}};
  if (service.scale.mode == ScaleMode::kFixed) out["scale"]["replicas"] = service.scale.replicas;

  if (!service.endpoints.empty()) {
    json endpoints = json::array();
    for (const Endpoint& endpoint : service.endpoints) {
      json e = {{"name", endpoint.name},
                {"protocol", Name(endpoint.protocol)},
                {"port", endpoint.port},
                {"target_port", endpoint.target_port},
                {"expose", Name(endpoint.expose)}};
      if (endpoint.path) e["path"] = *endpoint.path;
      if (endpoint.host) e["host"] = *endpoint.host;
      if (endpoint.redirect_http) e["redirect_http"] = true;
      endpoints.push_back(std::move(e));
    }
    out["endpoints"] = endpoints;
  }
  if (service.health) out["health"] = HealthJson(*service.health);
  out["restart_policy"] = {{"kind", Name(service.restart_policy.kind)},
                           {"max_attempts", service.restart_policy.max_attempts},
                           {"delay", ExactDuration(service.restart_policy.delay)}};
  if (!service.depends.empty()) {
    json depends = json::array();
    for (const Dependency& dependency : service.depends) {
      depends.push_back({{"service", dependency.service},
                         {"condition", Name(dependency.condition)},
                         {"timeout", ExactDuration(dependency.timeout)},
                         {"on_timeout", Name(dependency.on_timeout)}});
    }
    out["depends"] = depends;
  }
  if (!service.storage.empty()) {
    json storage = json::array();
    for (const Storage& mount : service.storage) storage.push_back(StorageJson(mount));
    out["storage"] = storage;
  }
  if (service.user) out["user"] = *service.user;
  out["hostname"] = service.hostname;
  if (!service.labels.empty()) out["labels"] = service.labels;
  out["privileged"] = service.privileged;
  if (!service.cap_add.empty()) out["cap_add"] = service.cap_add;
  if (!service.cap_drop.empty()) out["cap_drop"] = service.cap_drop;
  if (service.stop_signal) out["stop_signal"] = SignalName(*service.stop_signal);
  out["stop_grace_period"] = ExactDuration(service.stop_grace_period);
  out["read_only_root_fs"] = service.read_only_root_fs;
  if (!service.ulimits.empty()) {
    json ulimits = json::object();
    for (const auto& [name, limit] : service.ulimits) {
      ulimits[name] = {{"soft", RlimitJson(limit.soft)}, {"hard", RlimitJson(limit.hard)}};
    }
    out["ulimits"] = ulimits;
  }
  out["network_mode"] = Name(service.network_mode);
  return out;
}

}  // namespace

std::string ServiceToJson(const Service& service, int indent) {
  return ToJson(service).dump(indent);
}

std::string DeploymentToJson(const Deployment& deployment, int indent) {
  json services = json::object();
  for (const auto& [name, service] : deployment.services) services[name] = ToJson(service);
  json out = {
      {"version", deployment.version}, {"deployment", deployment.name}, {"services", services}};
  return out.dump(indent);
}

std::string ServiceHash(const Service& service) {
  json canonical = ToJson(service);
  for (const char* key : {"scale", "depends", "restart_policy", "health", "stop_grace_period"}) {
    canonical.erase(key);
  }
  return oci::Sha256Hex(canonical.dump());
}

}  // namespace zlayer::spec
