// SHA-256 digests of content, in the form OCI and containerd name content by
// ("sha256:<64 lowercase hex>"). The node's one SHA-256 implementation (OpenSSL EVP).
//
// Thread safety: pure functions; a Sha256 object belongs to one thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace zlayer::oci {

// True for "sha256:" followed by 64 lowercase hex digits, the only digests the
// node accepts.
bool IsSha256Digest(std::string_view digest);

// "sha256:<hex>" of `data`.
std::string Sha256Digest(std::string_view data);

// The 64 lowercase hex digits of the SHA-256 of `data`, without the "sha256:" prefix.
std::string Sha256Hex(std::string_view data);

// Incremental SHA-256, for blobs streamed in pieces.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size);
  // "sha256:<hex>" of everything updated so far; call once.
  std::string Finish();

 private:
  void* ctx_;  // EVP_MD_CTX
};

}  // namespace zlayer::oci
