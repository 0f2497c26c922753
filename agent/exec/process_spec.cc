#include "agent/exec/process_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

namespace zlayer::agent::exec {

namespace {

// "123" → 123; nullopt for anything but a decimal number below 2^31.
std::optional<uint32_t> ParseId(std::string_view text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      value > 2147483647u) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

Result<std::string> ExecProcessJson(std::string_view container_spec_json,
                                    const ProcessOverrides& overrides) {
  if (overrides.args.empty()) return InvalidArgumentError("exec: no command given");
  nlohmann::json spec = nlohmann::json::parse(container_spec_json, nullptr, false);
  if (spec.is_discarded() || !spec.is_object() || !spec.contains("process") ||
      !spec["process"].is_object()) {
    return InvalidArgumentError("exec: the container's OCI spec has no process");
  }
  nlohmann::json process = spec["process"];
  process["args"] = overrides.args;
  process["terminal"] = overrides.terminal;
  process.erase("consoleSize");
  if (!overrides.env.empty()) {
    std::vector<std::string> env;
    if (process.contains("env") && process["env"].is_array()) {
      env = process["env"].get<std::vector<std::string>>();
    }
    for (const std::string& entry : overrides.env) {
      const size_t equals = entry.find('=');
      if (equals == std::string::npos || equals == 0) {
        return InvalidArgumentError(fmt::format("exec: env \"{}\" is not NAME=value", entry));
      }
      const std::string prefix = entry.substr(0, equals + 1);
      auto same = std::find_if(env.begin(), env.end(),
                               [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
      if (same != env.end()) {
        *same = entry;
      } else {
        env.push_back(entry);
      }
    }
    process["env"] = env;
  }
  if (!overrides.cwd.empty()) {
    if (overrides.cwd.front() != '/') {
      return InvalidArgumentError(
          fmt::format("exec: working directory \"{}\" is not absolute", overrides.cwd));
    }
    process["cwd"] = overrides.cwd;
  }
  if (!overrides.user.empty()) {
    const std::string& user = overrides.user;
    const size_t colon = user.find(':');
    auto uid = ParseId(std::string_view(user).substr(0, colon));
    auto gid = colon == std::string::npos ? std::optional<uint32_t>(0)
                                          : ParseId(std::string_view(user).substr(colon + 1));
    if (!uid || !gid) {
      return InvalidArgumentError(
          fmt::format("exec: user \"{}\": only numeric uid or uid:gid is supported", user));
    }
    process["user"] = {{"uid", *uid}, {"gid", *gid}};
  }
  return process.dump();
}

Result<std::string> ExecProcessJson(std::string_view container_spec_json,
                                    const std::vector<std::string>& args, bool terminal) {
  ProcessOverrides overrides;
  overrides.args = args;
  overrides.terminal = terminal;
  return ExecProcessJson(container_spec_json, overrides);
}

std::string NewExecId() {
  std::random_device random;
  const uint64_t value = (static_cast<uint64_t>(random()) << 32) | random();
  return fmt::format("exec-{:016x}", value);
}

}  // namespace zlayer::agent::exec
