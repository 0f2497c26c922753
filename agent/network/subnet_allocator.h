// Which /24 of the node's deployment range (ZLAYER_NETWORK_CIDR, default
// 10.200.0.0/16) each deployment's bridge uses.
//
// The interface is what the rest of the agent sees; today it is backed by a
// small JSON file under the data dir (FileSubnetAllocator), later a cluster
// feeds each node's share from etcd behind the same interface.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/ipv4_cidr.h"
#include "common/status.h"

namespace zlayer::agent::network {

using ::zlayer::Ipv4Cidr;

class SubnetAllocator {
 public:
  virtual ~SubnetAllocator() = default;
  // The deployment's subnet ("10.200.3.0/24"): the one it already has, else the
  // lowest free /24 of the range. kResourceExhausted when none is free.
  virtual Result<std::string> Allocate(const std::string& deployment) = 0;
  // Frees the deployment's subnet; OK when it has none.
  virtual Status Release(const std::string& deployment) = 0;
  // Deployment -> subnet, for the clean-up at start.
  virtual std::map<std::string, std::string> Allocations() const = 0;
};

// The allocation rule on plain data, without persistence (also the fake).
class SubnetPool : public SubnetAllocator {
 public:
  // `range` must have a prefix of at most 24. Existing allocations are kept as
  // they are, even outside `range` (the range changed while they were in use);
  // new ones avoid every existing one.
  SubnetPool(Ipv4Cidr range, std::map<std::string, std::string> allocations = {});

  Result<std::string> Allocate(const std::string& deployment) override;
  Status Release(const std::string& deployment) override;
  std::map<std::string, std::string> Allocations() const override { return allocations_; }

 private:
  Ipv4Cidr range_;
  std::map<std::string, std::string> allocations_;
};

// SubnetPool persisted in a JSON file ({"subnets": {"web": "10.200.0.0/24"}}),
// rewritten (temporary file, fsync, rename) on every change, before the call
// returns: a subnet handed out survives a crash.
//
// Blocking (file I/O): call on a pool, not the event loop. Thread safety: all
// calls are serialized by an internal mutex.
class FileSubnetAllocator : public SubnetAllocator {
 public:
  // Reads `path` if it exists (a missing file is an empty allocation; its
  // directory is created on the first write). Errors: kInvalidArgument for a
  // range with a prefix above 24, kDataLoss for a file that is not ours.
  static Result<std::unique_ptr<FileSubnetAllocator>> Open(std::string path, Ipv4Cidr range);

  Result<std::string> Allocate(const std::string& deployment) override;
  Status Release(const std::string& deployment) override;
  std::map<std::string, std::string> Allocations() const override;

 private:
  FileSubnetAllocator(std::string path, Ipv4Cidr range, SubnetPool pool);
  Status Save();

  const std::string path_;
  const Ipv4Cidr range_;
  mutable std::mutex mutex_;  // guards pool_ and the file
  SubnetPool pool_;
};

}  // namespace zlayer::agent::network
