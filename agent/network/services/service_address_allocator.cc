#include "agent/network/services/service_address_allocator.h"

#include <fmt/core.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/durable_file.h"

namespace zlayer::agent::network::services {
namespace {

// The address of a "a.b.c.d" text, host byte order.
Result<uint32_t> ParseAddress(const std::string& text) {
  if (text.find('/') != std::string::npos) {
    return InvalidArgumentError(fmt::format("\"{}\": not an IPv4 address", text));
  }
  auto cidr = Ipv4Cidr::Parse(text + "/32");
  if (!cidr.ok()) return InvalidArgumentError(fmt::format("\"{}\": not an IPv4 address", text));
  return cidr->base;
}

std::string FormatAddress(uint32_t address) {
  return fmt::format("{}.{}.{}.{}", address >> 24, (address >> 16) & 0xff, (address >> 8) & 0xff,
                     address & 0xff);
}

bool IsServiceKey(const std::string& key) {
  const size_t slash = key.find('/');
  return slash != std::string::npos && slash > 0 && slash + 1 < key.size() &&
         key.find('/', slash + 1) == std::string::npos;
}

}  // namespace

std::string ServiceKey(const std::string& deployment, const std::string& service) {
  return deployment + "/" + service;
}

ServiceAddressPool::ServiceAddressPool(Ipv4Cidr range,
                                       std::map<std::string, std::string> allocations)
    : range_(range), allocations_(std::move(allocations)) {}

Result<std::string> ServiceAddressPool::Allocate(const std::string& deployment,
                                                 const std::string& service) {
  const std::string key = ServiceKey(deployment, service);
  if (auto it = allocations_.find(key); it != allocations_.end()) return it->second;
  std::set<uint32_t> taken;
  for (const auto& [name, text] : allocations_) {
    if (auto address = ParseAddress(text); address.ok()) taken.insert(*address);
  }
  const uint64_t size = uint64_t{1} << (32 - range_.prefix);
  // Below /31 the first and last addresses are the network and broadcast addresses.
  const uint64_t first = range_.prefix < 31 ? 1 : 0;
  const uint64_t end = range_.prefix < 31 ? size - 1 : size;
  for (uint64_t i = first; i < end; ++i) {
    const uint32_t candidate = range_.base + static_cast<uint32_t>(i);
    if (taken.count(candidate) != 0) continue;
    std::string address = FormatAddress(candidate);
    allocations_[key] = address;
    return address;
  }
  return Status(
      StatusCode::kResourceExhausted,
      fmt::format("service range {}: all {} addresses are in use", range_.ToString(), end - first));
}

Status ServiceAddressPool::Release(const std::string& deployment, const std::string& service) {
  allocations_.erase(ServiceKey(deployment, service));
  return Status::Ok();
}

Status ServiceAddressPool::ReleaseDeployment(const std::string& deployment) {
  const std::string prefix = deployment + "/";
  for (auto it = allocations_.lower_bound(prefix);
       it != allocations_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    it = allocations_.erase(it);
  }
  return Status::Ok();
}

FileServiceAddressAllocator::FileServiceAddressAllocator(std::string path, Ipv4Cidr range,
                                                         ServiceAddressPool pool)
    : path_(std::move(path)), range_(range), pool_(std::move(pool)) {}

Result<std::unique_ptr<FileServiceAddressAllocator>> FileServiceAddressAllocator::Open(
    std::string path, Ipv4Cidr range) {
  std::map<std::string, std::string> allocations;
  std::ifstream in(path);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    auto doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    auto services = doc.is_object() ? doc.find("services") : doc.end();
    if (doc.is_discarded() || !doc.is_object() || services == doc.end() || !services->is_object()) {
      return Status(StatusCode::kDataLoss,
                    fmt::format("{}: not a service address allocation file", path));
    }
    for (const auto& [key, value] : services->items()) {
      if (!IsServiceKey(key)) {
        return Status(StatusCode::kDataLoss,
                      fmt::format("{}: \"{}\" is not <deployment>/<service>", path, key));
      }
      if (!value.is_string() || !ParseAddress(value.get<std::string>()).ok()) {
        return Status(StatusCode::kDataLoss,
                      fmt::format("{}: address of \"{}\" is not an IPv4 address", path, key));
      }
      allocations[key] = value.get<std::string>();
    }
  } else if (errno != ENOENT) {
    return ErrnoError("open " + path);
  }
  return std::unique_ptr<FileServiceAddressAllocator>(new FileServiceAddressAllocator(
      std::move(path), range, ServiceAddressPool(range, std::move(allocations))));
}

Status FileServiceAddressAllocator::SaveOrRestore(
    const std::map<std::string, std::string>& before) {
  nlohmann::json doc{{"services", pool_.Allocations()}};
  Status saved = WriteFileDurably(path_, doc.dump(2) + "\n").Wrap("service addresses");
  if (!saved.ok()) pool_ = ServiceAddressPool(range_, before);  // the file still says so
  return saved;
}

Result<std::string> FileServiceAddressAllocator::Allocate(const std::string& deployment,
                                                          const std::string& service) {
  std::lock_guard lock(mutex_);
  const auto before = pool_.Allocations();
  auto address = pool_.Allocate(deployment, service);
  if (!address.ok() || before.count(ServiceKey(deployment, service)) != 0) return address;
  if (Status saved = SaveOrRestore(before); !saved.ok()) return saved;
  return address;
}

Status FileServiceAddressAllocator::Release(const std::string& deployment,
                                            const std::string& service) {
  std::lock_guard lock(mutex_);
  const auto before = pool_.Allocations();
  if (before.count(ServiceKey(deployment, service)) == 0) return Status::Ok();
  (void)pool_.Release(deployment, service);
  return SaveOrRestore(before);
}

Status FileServiceAddressAllocator::ReleaseDeployment(const std::string& deployment) {
  std::lock_guard lock(mutex_);
  const auto before = pool_.Allocations();
  (void)pool_.ReleaseDeployment(deployment);
  if (pool_.Allocations().size() == before.size()) return Status::Ok();
  return SaveOrRestore(before);
}

std::map<std::string, std::string> FileServiceAddressAllocator::Allocations() const {
  std::lock_guard lock(mutex_);
  return pool_.Allocations();
}

}  // namespace zlayer::agent::network::services
