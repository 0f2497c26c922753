// Small pieces shared by the ways images arrive (importer.cc, puller.cc): a BlobSource
// over bytes in memory, a lease released on scope exit, and progress reporting.
//
// Thread safety: each object belongs to one thread.
#pragma once

#include <algorithm>
#include <string>

#include "agent/containerd/client.h"
#include "agent/images/image_store.h"
#include "common/status.h"

namespace zlayer::images {

// Feeds WriteContent from a string the caller keeps alive.
class StringSource : public containerd::BlobSource {
 public:
  explicit StringSource(const std::string& data) : data_(data) {}
  Result<size_t> Read(char* buffer, size_t size) override {
    size_t n = std::min(size, data_.size() - position_);
    std::copy_n(data_.data() + position_, n, buffer);
    position_ += n;
    return n;
  }
  Status Seek(int64_t offset) override {
    if (offset < 0 || static_cast<size_t>(offset) > data_.size()) {
      return InvalidArgumentError("seek out of range");
    }
    position_ = static_cast<size_t>(offset);
    return Status::Ok();
  }
  // Bytes handed out (0: the blob was already present and nothing was read).
  size_t read() const { return position_; }

 private:
  const std::string& data_;
  size_t position_ = 0;
};

// Deletes a lease however the scope ends, unless Keep() was called. Deleting does not
// delete what the lease held: it only stops protecting it from GC.
class LeaseGuard {
 public:
  LeaseGuard(containerd::Client& client, std::string id) : client_(client), id_(std::move(id)) {}
  ~LeaseGuard() {
    if (!kept_) (void)client_.DeleteLease(id_, /*sync=*/false);
  }
  LeaseGuard(const LeaseGuard&) = delete;
  LeaseGuard& operator=(const LeaseGuard&) = delete;
  const std::string& id() const { return id_; }
  // Leaves the lease to expire on its own (its gc.expire), keeping what it holds until then.
  void Keep() { kept_ = true; }

 private:
  containerd::Client& client_;
  std::string id_;
  bool kept_ = false;
};

inline void Report(const ProgressCallback& progress, ProgressEvent::Kind kind,
                   const oci::Descriptor& blob, int64_t done, bool already_present,
                   const std::string& name = "") {
  if (!progress) return;
  ProgressEvent event;
  event.kind = kind;
  event.blob = blob;
  event.done = done;
  event.already_present = already_present;
  event.name = name;
  progress(event);
}

}  // namespace zlayer::images
