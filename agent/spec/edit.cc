#include "agent/spec/edit.h"

#include <yaml-cpp/yaml.h>

namespace zlayer::spec {

Result<std::string> WithReplicas(const std::string& yaml, const std::string& service,
                                 uint32_t replicas) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(std::string("stored spec is not YAML: ") + e.what());
  }
  if (!root.IsMap() || !root["services"] || !root["services"].IsMap()) {
    return InvalidArgumentError("stored spec has no services mapping");
  }
  YAML::Node node = root["services"][service];
  if (!node || !node.IsMap()) return NotFoundError("service " + service + " not found");
  if (!node["scale"] || !node["scale"].IsMap()) node["scale"] = YAML::Node(YAML::NodeType::Map);
  node["scale"]["replicas"] = replicas;
  YAML::Emitter out;
  out << root;
  if (!out.good()) return InvalidArgumentError("cannot write spec: " + out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

}  // namespace zlayer::spec
