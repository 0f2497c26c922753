// `zlayer image import FILE`: loads image archives into containerd.
//
// Two archive formats are read (plain tar, or tar compressed with anything
// libarchive reads):
//   - an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), as
//     `ctr images export`, `skopeo copy oci-archive:` and scripts/build-test-image.sh
//     write it. Preferred when `oci-layout` is present (Docker 25+ archives carry both);
//   - a `docker save` archive (`manifest.json` with Config, RepoTags, Layers). As
//     containerd's importer does, a Docker schema 2 manifest is generated for each
//     entry and written as content; the layers are stored as they are (uncompressed
//     tars get `application/vnd.docker.image.rootfs.diff.tar`, gzip ones
//     `...diff.tar.gzip`) - containerd 1.6 recompresses them with gzip, we do not, so
//     the manifest digest differs from `ctr import`'s.
//
// Image names:
//   - OCI: the index.json entry's `io.containerd.image.name`, else its
//     `org.opencontainers.image.ref.name` when that is a full reference (contains
//     '/', ':' or '@'). A ref.name that is only a tag ("latest"), or no name at all,
//     needs ImportOptions::base_name ("docker.io/me/app" → "docker.io/me/app:latest");
//     without one the import fails and says so. We chose this over inventing a name
//     (such as import-<digest>:tag): an image nobody named would be hard to find and
//     to delete.
//   - docker save: each of RepoTags; an entry without RepoTags needs base_name.
//   All names are normalised like Docker references (oci/reference.h).
//
// How (containerd-client-notes.md §3-6): the archive is read twice, streaming, so big
// layers never sit in memory. Pass 1 hashes every file and keeps only small JSON
// documents; from them the importer plans what to write and checks every blob's
// presence, size and digest before anything is written. Pass 2, under a lease held for
// the whole import, streams each blob into the Content service with WriteContent
// (which verifies the digest again at commit), children before parents, index and
// manifest blobs carrying their gc.ref.content labels. Then each image is unpacked
// into the store's snapshotter (ImageStore::Unpack) and only then its record is
// created or updated, so a failed import leaves no image record; what it wrote goes
// with the lease at the next garbage collection. Blobs, snapshots and records that
// already exist are kept, so importing an archive twice changes nothing.
//
// Threading: Import blocks (file I/O and containerd calls) for as long as the archive
// takes; run it on the worker pool, never the event loop.
#pragma once

#include <string>
#include <vector>

#include "agent/containerd/client.h"
#include "agent/images/image_store.h"
#include "common/status.h"

namespace zlayer::images {

struct ImportOptions {
  // Names images the archive names only by a tag, or not at all (see above).
  std::string base_name;
};

class Importer {
 public:
  // `client` and `store` must outlive the importer; `store` must use `client`.
  Importer(containerd::Client& client, ImageStore& store);

  // Imports the archive at `tar_path` and returns the (normalised) names of
  // the images it now provides, in archive order. `progress` (optional) is
  // called on this thread.
  //
  // Errors name the file and the problem: kNotFound / kPermissionDenied when
  // the file cannot be opened; kInvalidArgument when it is not a tar, is
  // neither format (no oci-layout + index.json, no manifest.json), has a
  // malformed JSON document, names an image badly or not at all, or has no
  // manifest for the store's platform; kDataLoss when a blob is missing, or
  // its size or digest is not what refers to it says (a docker-save layer is
  // checked against the config's diff id too); containerd's errors, wrapped
  // with the step, otherwise.
  Result<std::vector<std::string>> Import(const std::string& tar_path,
                                          const ProgressCallback& progress = {});
  Result<std::vector<std::string>> Import(const std::string& tar_path, const ImportOptions& options,
                                          const ProgressCallback& progress);

 private:
  containerd::Client& client_;
  ImageStore& store_;
};

}  // namespace zlayer::images
