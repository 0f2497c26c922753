#include "agent/oci/manifest.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "agent/oci/digest.h"

namespace zlayer::oci {
namespace {

using json = nlohmann::json;

Result<Descriptor> ParseDescriptor(const json& j, const std::string& where) {
  if (!j.is_object()) return InvalidArgumentError(where + ": expected an object");
  Descriptor d;
  auto media_type = j.find("mediaType");
  if (media_type == j.end() || !media_type->is_string() || media_type->get<std::string>().empty()) {
    return InvalidArgumentError(where + ".mediaType: expected a non-empty string");
  }
  d.media_type = media_type->get<std::string>();
  auto digest = j.find("digest");
  if (digest == j.end() || !digest->is_string() || !IsSha256Digest(digest->get<std::string>())) {
    return InvalidArgumentError(where + ".digest: expected a sha256:<64 hex> digest");
  }
  d.digest = digest->get<std::string>();
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return InvalidArgumentError(where + ".size: expected a size >= 0");
  }
  d.size = size->get<int64_t>();
  auto annotations = j.find("annotations");
  if (annotations != j.end() && !annotations->is_null()) {
    if (!annotations->is_object())
      return InvalidArgumentError(where + ".annotations: expected an object");
    for (const auto& [k, v] : annotations->items()) {
      if (!v.is_string()) {
        return InvalidArgumentError(fmt::format("{}.annotations.{}: expected a string", where, k));
      }
      d.annotations[k] = v.get<std::string>();
    }
  }
  return d;
}

Result<json> ParseDocument(std::string_view text, const char* what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgumentError(fmt::format("{}: not a JSON object", what));
  }
  auto version = j.find("schemaVersion");
  if (version == j.end() || !version->is_number_integer() || version->get<int>() != 2) {
    return InvalidArgumentError(fmt::format("{}: schemaVersion: expected 2", what));
  }
  return j;
}

std::string OptionalString(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

bool IsIndexMediaType(std::string_view t) {
  return t == kMediaTypeOciIndex || t == kMediaTypeDockerManifestList;
}

bool IsManifestMediaType(std::string_view t) {
  return t == kMediaTypeOciManifest || t == kMediaTypeDockerManifest;
}

bool IsConfigMediaType(std::string_view t) {
  return t == kMediaTypeOciConfig || t == kMediaTypeDockerConfig;
}

bool IsLayerMediaType(std::string_view t) {
  return t.starts_with("application/vnd.oci.image.layer.") ||
         t.starts_with("application/vnd.docker.image.rootfs.diff.tar") ||
         t.starts_with("application/vnd.docker.image.rootfs.foreign.diff.tar");
}

Result<Index> ParseIndex(std::string_view text) {
  Result<json> j = ParseDocument(text, "index");
  if (!j.ok()) return j.status();
  Index index;
  index.media_type = OptionalString(*j, "mediaType");
  auto manifests = j->find("manifests");
  if (manifests == j->end() || !manifests->is_array()) {
    return InvalidArgumentError("index: manifests: expected an array");
  }
  for (size_t i = 0; i < manifests->size(); ++i) {
    std::string where = fmt::format("index: manifests[{}]", i);
    const json& entry = (*manifests)[i];
    Result<Descriptor> d = ParseDescriptor(entry, where);
    if (!d.ok()) return d.status();
    Descriptor out = std::move(*d);
    auto platform = entry.find("platform");
    if (platform != entry.end() && !platform->is_null()) {
      if (!platform->is_object())
        return InvalidArgumentError(where + ".platform: expected an object");
      out.platform =
          Platform{OptionalString(*platform, "os"), OptionalString(*platform, "architecture"),
                   OptionalString(*platform, "variant")};
    }
    index.manifests.push_back(std::move(out));
  }
  return index;
}

Result<Manifest> ParseManifest(std::string_view text) {
  Result<json> j = ParseDocument(text, "manifest");
  if (!j.ok()) return j.status();
  Manifest manifest;
  manifest.media_type = OptionalString(*j, "mediaType");
  auto config = j->find("config");
  if (config == j->end()) return InvalidArgumentError("manifest: config: missing");
  Result<Descriptor> c = ParseDescriptor(*config, "manifest: config");
  if (!c.ok()) return c.status();
  manifest.config = *c;
  auto layers = j->find("layers");
  if (layers == j->end() || !layers->is_array()) {
    return InvalidArgumentError("manifest: layers: expected an array");
  }
  for (size_t i = 0; i < layers->size(); ++i) {
    Result<Descriptor> d = ParseDescriptor((*layers)[i], fmt::format("manifest: layers[{}]", i));
    if (!d.ok()) return d.status();
    manifest.layers.push_back(*d);
  }
  return manifest;
}

std::string DockerManifestJson(const Descriptor& config, const std::vector<Descriptor>& layers) {
  nlohmann::ordered_json j;
  j["schemaVersion"] = 2;
  j["mediaType"] = kMediaTypeDockerManifest;
  auto descriptor = [](const Descriptor& d) {
    nlohmann::ordered_json o;
    o["mediaType"] = d.media_type;
    o["digest"] = d.digest;
    o["size"] = d.size;
    return o;
  };
  j["config"] = descriptor(config);
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& layer : layers) j["layers"].push_back(descriptor(layer));
  return j.dump();
}

}  // namespace zlayer::oci
