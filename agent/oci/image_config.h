// An image's configuration blob (OCI `application/vnd.oci.image.config.v1+json` or Docker
// `application/vnd.docker.container.image.v1+json`), reduced to what the node uses: how to
// run the image (the nested `config` object) and how to unpack it (`rootfs.diff_ids`).
//
// Thread safety: plain values and a pure function.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace zlayer::oci {

struct ImageConfig {
  // Docker's override rules tell "absent" (nullopt: the key is missing or null) from "set
  // to an empty list" (`ENTRYPOINT []`), so both are kept as written.
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> cmd;
  std::vector<std::string> env;  // "KEY=value", in image order
  std::string working_dir;       // "" when the image sets none
  std::string user;              // "" when the image sets none; uid, uid:gid, name, name:group
  std::string stop_signal;       // as written ("SIGQUIT", "3"); "" when the image sets none
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;  // "80/tcp", sorted
  std::vector<std::string> volumes;        // VOLUME targets, sorted; the node mounts none of them
  std::string os;                          // "linux"
  std::string architecture;                // "amd64"
  std::string variant;                     // "" unless set ("v7" for arm)
  std::vector<std::string> diff_ids;       // "sha256:<hex>" per layer, base layer first
};

// Parses an image config blob. Keys the node does not use (history, created, author,
// container_config, Healthcheck, ...) are ignored; a JSON null counts as absent.
//
// Returns kInvalidArgument, with a message naming the field ("image config:
// config.Entrypoint: expected an array of strings"), when the text is not JSON, when a
// known field has the wrong type, when `os`, `architecture` or `rootfs` is missing, when
// `rootfs.type` is not "layers", or when a diff id is not a digest.
Result<ImageConfig> ParseImageConfig(std::string_view json);

}  // namespace zlayer::oci
