#include "agent/network/subnet_allocator.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "common/durable_file.h"

namespace zlayer::agent::network {
namespace {

constexpr int kSubnetPrefix = 24;

}  // namespace

SubnetPool::SubnetPool(Ipv4Cidr range, std::map<std::string, std::string> allocations)
    : range_(range), allocations_(std::move(allocations)) {}

Result<std::string> SubnetPool::Allocate(const std::string& deployment) {
  if (auto it = allocations_.find(deployment); it != allocations_.end()) return it->second;
  if (range_.prefix > kSubnetPrefix) {
    return InvalidArgumentError(
        fmt::format("network range {}: smaller than a /24", range_.ToString()));
  }
  std::vector<Ipv4Cidr> taken;
  for (const auto& [name, text] : allocations_) {
    if (auto cidr = Ipv4Cidr::Parse(text); cidr.ok()) taken.push_back(*cidr);
  }
  const uint64_t count = uint64_t{1} << (kSubnetPrefix - range_.prefix);
  for (uint64_t i = 0; i < count; ++i) {
    Ipv4Cidr candidate{range_.base + static_cast<uint32_t>(i << (32 - kSubnetPrefix)),
                       kSubnetPrefix};
    bool free = true;
    for (const Ipv4Cidr& used : taken) free = free && !used.Overlaps(candidate);
    if (!free) continue;
    std::string subnet = candidate.ToString();
    allocations_[deployment] = subnet;
    return subnet;
  }
  return Status(
      StatusCode::kResourceExhausted,
      fmt::format("network range {}: all {} subnets are in use", range_.ToString(), count));
}

Status SubnetPool::Release(const std::string& deployment) {
  allocations_.erase(deployment);
  return Status::Ok();
}

FileSubnetAllocator::FileSubnetAllocator(std::string path, Ipv4Cidr range, SubnetPool pool)
    : path_(std::move(path)), range_(range), pool_(std::move(pool)) {}

Result<std::unique_ptr<FileSubnetAllocator>> FileSubnetAllocator::Open(std::string path,
                                                                       Ipv4Cidr range) {
  if (range.prefix > kSubnetPrefix) {
    return InvalidArgumentError(
        fmt::format("network range {}: smaller than a /24", range.ToString()));
  }
  std::map<std::string, std::string> allocations;
  std::ifstream in(path);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    auto doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    auto subnets = doc.is_object() ? doc.find("subnets") : doc.end();
    if (doc.is_discarded() || !doc.is_object() || subnets == doc.end() || !subnets->is_object()) {
      return Status(StatusCode::kDataLoss, fmt::format("{}: not a subnet allocation file", path));
    }
    for (const auto& [name, value] : subnets->items()) {
      if (!value.is_string() || !Ipv4Cidr::Parse(value.get<std::string>()).ok()) {
        return Status(StatusCode::kDataLoss,
                      fmt::format("{}: subnet of \"{}\" is not a CIDR", path, name));
      }
      allocations[name] = value.get<std::string>();
    }
  } else if (errno != ENOENT) {
    return ErrnoError("open " + path);
  }
  return std::unique_ptr<FileSubnetAllocator>(
      new FileSubnetAllocator(std::move(path), range, SubnetPool(range, std::move(allocations))));
}

Status FileSubnetAllocator::Save() {
  nlohmann::json doc{{"subnets", pool_.Allocations()}};
  return WriteFileDurably(path_, doc.dump(2) + "\n").Wrap("subnets");
}

Result<std::string> FileSubnetAllocator::Allocate(const std::string& deployment) {
  std::lock_guard lock(mutex_);
  const auto before = pool_.Allocations();
  auto subnet = pool_.Allocate(deployment);
  if (!subnet.ok() || before.count(deployment) != 0) return subnet;
  if (Status saved = Save(); !saved.ok()) {
    (void)pool_.Release(deployment);  // not handed out unless it is on disk
    return saved;
  }
  return subnet;
}

Status FileSubnetAllocator::Release(const std::string& deployment) {
  std::lock_guard lock(mutex_);
  const auto before = pool_.Allocations();
  if (before.count(deployment) == 0) return Status::Ok();
  (void)pool_.Release(deployment);
  Status saved = Save();
  if (!saved.ok()) pool_ = SubnetPool(range_, before);  // still in use as far as the file says
  return saved;
}

std::map<std::string, std::string> FileSubnetAllocator::Allocations() const {
  std::lock_guard lock(mutex_);
  return pool_.Allocations();
}

}  // namespace zlayer::agent::network
