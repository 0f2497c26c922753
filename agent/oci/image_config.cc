#include "agent/oci/image_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace zlayer::oci {
namespace {

using nlohmann::json;

Status FieldError(std::string_view field, std::string_view problem) {
  return InvalidArgumentError(fmt::format("image config: {}: {}", field, problem));
}

// The member `key` of `object`, or nullptr when it is missing or null.
const json* Member(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

Status ReadString(const json& object, const char* key, std::string_view path, std::string* out) {
  const json* value = Member(object, key);
  if (value == nullptr) return Status::Ok();
  if (!value->is_string()) return FieldError(path, "expected a string");
  *out = value->get<std::string>();
  return Status::Ok();
}

Status ReadStringList(const json& value, std::string_view path, std::vector<std::string>* out) {
  if (!value.is_array()) return FieldError(path, "expected an array of strings");
  out->clear();
  for (const json& item : value) {
    if (!item.is_string()) return FieldError(path, "expected an array of strings");
    out->push_back(item.get<std::string>());
  }
  return Status::Ok();
}

Status ReadOptionalStringList(const json& object, const char* key, std::string_view path,
                              std::optional<std::vector<std::string>>* out) {
  const json* value = Member(object, key);
  if (value == nullptr) return Status::Ok();
  std::vector<std::string> list;
  ZLAYER_RETURN_IF_ERROR(ReadStringList(*value, path, &list));
  *out = std::move(list);
  return Status::Ok();
}

// Docker writes sets as objects whose values are `{}` ("ExposedPorts": {"80/tcp": {}}).
Status ReadKeySet(const json& object, const char* key, std::string_view path,
                  std::vector<std::string>* out) {
  const json* value = Member(object, key);
  if (value == nullptr) return Status::Ok();
  if (!value->is_object()) return FieldError(path, "expected an object");
  for (const auto& [name, ignored] : value->items()) out->push_back(name);
  std::sort(out->begin(), out->end());
  return Status::Ok();
}

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// OCI digest grammar, with the lengths of the two registered algorithms enforced.
bool IsDigest(std::string_view digest) {
  size_t colon = digest.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == digest.size()) return false;
  std::string_view algorithm = digest.substr(0, colon);
  std::string_view encoded = digest.substr(colon + 1);
  if (algorithm == "sha256") return encoded.size() == 64 && IsLowerHex(encoded);
  if (algorithm == "sha512") return encoded.size() == 128 && IsLowerHex(encoded);
  auto algorithm_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '.' || c == '_' ||
           c == '-';
  };
  auto encoded_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '=' ||
           c == '_' || c == '-';
  };
  return std::all_of(algorithm.begin(), algorithm.end(), algorithm_char) &&
         std::all_of(encoded.begin(), encoded.end(), encoded_char);
}

Status ReadRunConfig(const json& config, ImageConfig* out) {
  if (!config.is_object()) return FieldError("config", "expected an object");
  ZLAYER_RETURN_IF_ERROR(
      ReadOptionalStringList(config, "Entrypoint", "config.Entrypoint", &out->entrypoint));
  ZLAYER_RETURN_IF_ERROR(ReadOptionalStringList(config, "Cmd", "config.Cmd", &out->cmd));
  if (const json* env = Member(config, "Env")) {
    ZLAYER_RETURN_IF_ERROR(ReadStringList(*env, "config.Env", &out->env));
  }
  ZLAYER_RETURN_IF_ERROR(ReadString(config, "WorkingDir", "config.WorkingDir", &out->working_dir));
  ZLAYER_RETURN_IF_ERROR(ReadString(config, "User", "config.User", &out->user));
  ZLAYER_RETURN_IF_ERROR(ReadString(config, "StopSignal", "config.StopSignal", &out->stop_signal));
  if (const json* labels = Member(config, "Labels")) {
    if (!labels->is_object()) return FieldError("config.Labels", "expected an object");
    for (const auto& [key, value] : labels->items()) {
      if (!value.is_string()) {
        return FieldError(fmt::format("config.Labels.{}", key), "expected a string");
      }
      out->labels[key] = value.get<std::string>();
    }
  }
  ZLAYER_RETURN_IF_ERROR(
      ReadKeySet(config, "ExposedPorts", "config.ExposedPorts", &out->exposed_ports));
  ZLAYER_RETURN_IF_ERROR(ReadKeySet(config, "Volumes", "config.Volumes", &out->volumes));
  return Status::Ok();
}

Status ReadRootfs(const json& document, ImageConfig* out) {
  const json* rootfs = Member(document, "rootfs");
  if (rootfs == nullptr) return FieldError("rootfs", "missing");
  if (!rootfs->is_object()) return FieldError("rootfs", "expected an object");
  std::string type;
  ZLAYER_RETURN_IF_ERROR(ReadString(*rootfs, "type", "rootfs.type", &type));
  if (type != "layers") {
    return FieldError("rootfs.type", fmt::format("expected \"layers\", got \"{}\"", type));
  }
  const json* diff_ids = Member(*rootfs, "diff_ids");
  if (diff_ids == nullptr) return FieldError("rootfs.diff_ids", "missing");
  ZLAYER_RETURN_IF_ERROR(ReadStringList(*diff_ids, "rootfs.diff_ids", &out->diff_ids));
  for (size_t i = 0; i < out->diff_ids.size(); ++i) {
    if (!IsDigest(out->diff_ids[i])) {
      return FieldError(fmt::format("rootfs.diff_ids[{}]", i),
                        fmt::format("\"{}\" is not a digest", out->diff_ids[i]));
    }
  }
  return Status::Ok();
}

Status ReadRequiredString(const json& document, const char* key, std::string* out) {
  ZLAYER_RETURN_IF_ERROR(ReadString(document, key, key, out));
  if (out->empty()) return FieldError(key, "missing");
  return Status::Ok();
}

}  // namespace

Result<ImageConfig> ParseImageConfig(std::string_view text) {
  json document = json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return InvalidArgumentError("image config: not valid JSON");
  if (!document.is_object()) return InvalidArgumentError("image config: expected a JSON object");

  ImageConfig config;
  ZLAYER_RETURN_IF_ERROR(ReadRequiredString(document, "os", &config.os));
  ZLAYER_RETURN_IF_ERROR(ReadRequiredString(document, "architecture", &config.architecture));
  ZLAYER_RETURN_IF_ERROR(ReadString(document, "variant", "variant", &config.variant));
  if (const json* run_config = Member(document, "config")) {
    ZLAYER_RETURN_IF_ERROR(ReadRunConfig(*run_config, &config));
  }
  ZLAYER_RETURN_IF_ERROR(ReadRootfs(document, &config));
  return config;
}

}  // namespace zlayer::oci
