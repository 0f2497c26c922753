// Blobs for the containerd tests: digests, an in-memory BlobSource that
// records how the client used it, and a tiny uncompressed tar writer for a
// hand-made rootfs layer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/containerd/client.h"
#include "agent/oci/digest.h"

namespace zlayer::containerd::testing {

// "sha256:<hex>" of `data`.
using oci::Sha256Digest;

// Serves `data`; with `fail_after_reads` set, every Read after that many
// successful ones fails with kUnavailable (a broken download).
class MemoryBlobSource : public BlobSource {
 public:
  explicit MemoryBlobSource(std::string data, std::optional<int> fail_after_reads = std::nullopt)
      : data_(std::move(data)), fail_after_reads_(fail_after_reads) {}

  Result<size_t> Read(char* buffer, size_t size) override;
  Status Seek(int64_t offset) override;

  const std::vector<int64_t>& seeks() const { return seeks_; }
  int reads() const { return reads_; }

 private:
  std::string data_;
  std::optional<int> fail_after_reads_;
  size_t position_ = 0;
  int reads_ = 0;
  std::vector<int64_t> seeks_;
};

// An uncompressed ustar archive, built entry by entry (root-owned, mtime 0).
class TarWriter {
 public:
  void AddDirectory(const std::string& path, uint32_t mode = 0755);
  void AddFile(const std::string& path, const std::string& content, uint32_t mode = 0644);
  void AddSymlink(const std::string& path, const std::string& target);
  // The archive with its two terminating zero blocks.
  std::string Finish() const;

 private:
  void AddHeader(const std::string& path, char type, uint32_t mode, size_t size,
                 const std::string& link_target);
  std::string archive_;
};

}  // namespace zlayer::containerd::testing
