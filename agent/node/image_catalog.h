// The node's images as the application layer sees them: import, pull, list,
// remove. Implemented over agent/images in agent/daemon; a fake in tests.
//
// Every method blocks (containerd calls, registry transfers) and runs on a pool
// (Node: pulls, imports and removals on `images`, lists on `queries`).
// Callbacks run on the calling thread and must be quick (they post).
// Implementations are safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"

namespace zlayer::agent::node {

struct ImageInfo {
  std::string name;
  std::string digest;
  std::string media_type;
  int64_t size = 0;
  bool unpacked = false;
};

// Progress of one blob of an import or pull; `phase` numbers as
// zlayer.v1.BlobProgress.Phase (1 waiting, 2 fetching, 3 exists, 4 verified,
// 5 unpacking, 6 unpacked).
struct ImportProgress {
  std::string digest;
  std::string media_type;
  int64_t size = 0;
  int64_t offset = 0;
  int phase = 0;
};

// What a pull resolved to, before any layer is fetched.
struct PullResolvedInfo {
  std::string name;
  std::string digest;                 // of the index or manifest the name points at
  std::string platform;               // "linux/amd64"
  std::vector<ImportProgress> blobs;  // config, then layers; phase 1 (waiting)
};

class ImageCatalog {
 public:
  using OnProgress = std::function<void(const ImportProgress&)>;
  virtual ~ImageCatalog() = default;

  // Imports the docker-save / OCI archive at `path`; `name` names images the
  // archive names only by a tag, or not at all. Returns the images stored.
  virtual Result<std::vector<ImageInfo>> Import(const std::string& path, const std::string& name,
                                                const OnProgress& on_progress) = 0;
  // Checks `platform` ("os/arch[/variant]" or "" for the node's) without
  // blocking: kInvalidArgument naming it when malformed.
  virtual Status CheckPlatform(const std::string& platform) = 0;
  // Pulls `reference` for `platform` (see CheckPlatform).
  virtual Result<ImageInfo> Pull(const std::string& reference, const std::string& platform,
                                 const std::function<void(const PullResolvedInfo&)>& on_resolved,
                                 const OnProgress& on_progress) = 0;
  virtual Result<std::vector<ImageInfo>> List() = 0;
  // kNotFound naming `reference` when there is no such image.
  virtual Status Remove(const std::string& reference) = 0;
};

}  // namespace zlayer::agent::node
