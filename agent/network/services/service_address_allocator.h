// Which address of the node's service range (ZLAYER_SERVICE_CIDR, default
// 10.201.0.0/16) each service uses as its stable virtual address (issue 12).
//
// A service is named by the key "<deployment>/<service>". The interface is
// what the rest of the agent sees; today it is backed by a small JSON file
// under the data dir (FileServiceAddressAllocator), later a cluster feeds each
// node's share of the range behind the same interface.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/ipv4_cidr.h"
#include "common/status.h"

namespace zlayer::agent::network::services {

using ::zlayer::Ipv4Cidr;

// "<deployment>/<service>", the key of a service's address.
std::string ServiceKey(const std::string& deployment, const std::string& service);

class ServiceAddressAllocator {
 public:
  virtual ~ServiceAddressAllocator() = default;
  // The service's address ("10.201.0.1"): the one it already has, else the
  // lowest free address of the range, never the range's network address nor,
  // for prefixes below 31, its broadcast address. kResourceExhausted when
  // none is free.
  virtual Result<std::string> Allocate(const std::string& deployment,
                                       const std::string& service) = 0;
  // Frees the service's address; OK when it has none.
  virtual Status Release(const std::string& deployment, const std::string& service) = 0;
  // Frees the addresses of all the deployment's services; OK when it has none.
  virtual Status ReleaseDeployment(const std::string& deployment) = 0;
  // "<deployment>/<service>" -> address, for the clean-up at start.
  virtual std::map<std::string, std::string> Allocations() const = 0;
};

// The allocation rule on plain data, without persistence (also the fake).
class ServiceAddressPool : public ServiceAddressAllocator {
 public:
  // Existing allocations are kept as they are, even outside `range` (the
  // range changed while they were in use); new ones avoid every existing one.
  explicit ServiceAddressPool(Ipv4Cidr range, std::map<std::string, std::string> allocations = {});

  Result<std::string> Allocate(const std::string& deployment, const std::string& service) override;
  Status Release(const std::string& deployment, const std::string& service) override;
  Status ReleaseDeployment(const std::string& deployment) override;
  std::map<std::string, std::string> Allocations() const override { return allocations_; }

 private:
  Ipv4Cidr range_;
  std::map<std::string, std::string> allocations_;
};

// ServiceAddressPool persisted in a JSON file
// ({"services": {"web/api": "10.201.0.1"}}), rewritten (temporary file, fsync,
// rename) on every change, before the call returns: an address handed out
// survives a crash, and a failed write leaves the allocation as it was.
//
// Blocking (file I/O): call on a pool, not the event loop. Thread safety: all
// calls are serialized by an internal mutex.
class FileServiceAddressAllocator : public ServiceAddressAllocator {
 public:
  // Reads `path` if it exists (a missing file is an empty allocation; its
  // directory is created on the first write). Errors: kDataLoss for a file
  // that is not ours, the errno of a file that cannot be read.
  static Result<std::unique_ptr<FileServiceAddressAllocator>> Open(std::string path,
                                                                   Ipv4Cidr range);

  Result<std::string> Allocate(const std::string& deployment, const std::string& service) override;
  Status Release(const std::string& deployment, const std::string& service) override;
  Status ReleaseDeployment(const std::string& deployment) override;
  std::map<std::string, std::string> Allocations() const override;

 private:
  FileServiceAddressAllocator(std::string path, Ipv4Cidr range, ServiceAddressPool pool);
  // Writes the pool; on failure puts `before` back into the pool.
  Status SaveOrRestore(const std::map<std::string, std::string>& before);

  const std::string path_;
  const Ipv4Cidr range_;
  mutable std::mutex mutex_;  // guards pool_ and the file
  ServiceAddressPool pool_;
};

}  // namespace zlayer::agent::network::services
