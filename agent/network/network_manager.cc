#include "agent/network/network_manager.h"

#include <fmt/core.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/durable_file.h"
#include "common/executors.h"
#include "common/network_names.h"

namespace zlayer::agent::network {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* ModeName(AttachMode mode) {
  return mode == AttachMode::kBridge ? "bridge" : "loopback";
}

// The first address of `subnet` (the bridge's, host-local's default gateway).
std::string GatewayOf(const std::string& subnet) {
  auto cidr = Ipv4Cidr::Parse(subnet);
  if (!cidr.ok()) return "";
  const uint32_t gw = cidr->base + 1;
  return fmt::format("{}.{}.{}.{}", gw >> 24, (gw >> 16) & 0xff, (gw >> 8) & 0xff, gw & 0xff);
}

std::string FindIp() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "/usr/sbin/ip";
}

// The container ids host-local's reservation files under `dir` name, by file:
// each file named after an address holds "<container id>\r\n<ifname>" (or
// just the id in older versions).
std::map<fs::path, std::string> Reservations(const std::string& dir) {
  std::map<fs::path, std::string> found;
  std::error_code ec;
  for (const auto& network : fs::directory_iterator(dir, ec)) {
    if (!network.is_directory()) continue;
    for (const auto& file : fs::directory_iterator(network.path(), ec)) {
      const std::string name = file.path().filename();
      if (name.find('.') == std::string::npos || name.starts_with("last_reserved_ip") ||
          name == "lock") {
        continue;
      }
      std::ifstream in(file.path());
      std::string id;
      std::getline(in, id);
      while (!id.empty() && (id.back() == '\r' || id.back() == '\n')) id.pop_back();
      found[file.path()] = id;
    }
  }
  return found;
}

}  // namespace

json AttachmentToJson(const Attachment& a) {
  json out = {{"container_id", a.container_id},
              {"deployment", a.deployment},
              {"mode", ModeName(a.mode)},
              {"netns", a.netns}};
  if (a.mode == AttachMode::kBridge) {
    out["subnet"] = a.subnet;
    out["address"] = a.address;
    out["gateway"] = a.gateway;
    out["cni_result"] = a.cni_result;
  }
  return out;
}

Result<Attachment> AttachmentFromJson(const json& in) {
  auto text = [&](const char* key) -> Result<std::string> {
    auto it = in.find(key);
    if (it == in.end() || !it->is_string()) {
      return Status(StatusCode::kDataLoss, fmt::format("attachment: \"{}\" is not a string", key));
    }
    return it->get<std::string>();
  };
  if (!in.is_object()) return Status(StatusCode::kDataLoss, "attachment: not a JSON object");
  Attachment a;
  std::string mode;
  const std::pair<const char*, std::string*> common[] = {{"container_id", &a.container_id},
                                                         {"deployment", &a.deployment},
                                                         {"mode", &mode},
                                                         {"netns", &a.netns}};
  for (const auto& [key, field] : common) {
    Result<std::string> value = text(key);
    if (!value.ok()) return value.status();
    *field = std::move(*value);
  }
  if (mode == "bridge") {
    a.mode = AttachMode::kBridge;
    const std::pair<const char*, std::string*> bridge[] = {
        {"subnet", &a.subnet}, {"address", &a.address}, {"gateway", &a.gateway}};
    for (const auto& [key, field] : bridge) {
      Result<std::string> value = text(key);
      if (!value.ok()) return value.status();
      *field = std::move(*value);
    }
    a.cni_result = in.value("cni_result", json());
  } else if (mode == "loopback") {
    a.mode = AttachMode::kLoopbackOnly;
  } else {
    return Status(StatusCode::kDataLoss, "attachment: unknown mode \"" + mode + "\"");
  }
  return a;
}

NetworkManager::NetworkManager(boost::asio::io_context& loop, boost::asio::thread_pool& files,
                               ProcessRunner& runner, std::unique_ptr<SubnetAllocator> subnets,
                               NetworkManagerOptions options, Logger& log)
    : loop_(loop),
      files_(files),
      runner_(runner),
      subnets_(std::move(subnets)),
      options_(std::move(options)),
      log_(log),
      netns_(options_.run_dir),
      invoker_(runner, options_.invoker) {
  if (options_.ip_program.empty()) options_.ip_program = FindIp();
}

Result<std::unique_ptr<NetworkManager>> NetworkManager::Open(
    boost::asio::io_context& loop, boost::asio::thread_pool& files, ProcessRunner& runner,
    std::unique_ptr<SubnetAllocator> subnets, NetworkManagerOptions options, Logger& log) {
  std::unique_ptr<NetworkManager> manager(
      new NetworkManager(loop, files, runner, std::move(subnets), std::move(options), log));
  const fs::path dir = fs::path(manager->options_.data_dir) / "network" / "attachments";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    json doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
    Result<Attachment> attachment = AttachmentFromJson(doc);
    if (!attachment.ok()) {
      // Not ours to trust: Prune removes what it described.
      log.Warn("{}: {}; ignored", entry.path().string(), attachment.status().message());
      continue;
    }
    manager->attachments_[attachment->container_id] = std::move(*attachment);
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return ErrnoError("read " + dir.string(), ec.value());
  }
  return manager;
}

std::string NetworkManager::NetworkName(const std::string& deployment) const {
  return "zl" + NetworkTag(options_.range) + "-" + deployment;
}

std::string NetworkManager::AttachmentPath(const std::string& id) const {
  return options_.data_dir + "/network/attachments/" + id + ".json";
}

std::string NetworkManager::IpamDir() const { return options_.data_dir + "/network/ipam"; }

cni::NetworkList NetworkManager::BridgeList(const std::string& deployment,
                                            const std::string& subnet) const {
  cni::BridgeNetwork network;
  network.name = NetworkName(deployment);
  network.bridge = BridgeName(*Ipv4Cidr::Parse(subnet));
  network.subnet = subnet;
  network.ipam_data_dir = IpamDir();
  return cni::BridgeNetworkList(network);
}

const Attachment* NetworkManager::Find(const std::string& id) const {
  auto it = attachments_.find(id);
  return it == attachments_.end() ? nullptr : &it->second;
}

bool NetworkManager::Gated(const std::string& deployment) const {
  return pruning_ || releasing_.count(deployment) > 0;
}

void NetworkManager::Attach(const std::string& id, const std::string& deployment, AttachMode mode,
                            AttachDone done) {
  if (Find(id) != nullptr) return CheckAttached(id, deployment, mode, std::move(done));
  released_.erase(deployment);  // deployed again
  if (Gated(deployment)) {
    queued_.push_back({id, deployment, mode, "", std::move(done)});
    return;
  }
  StartAttach(id, deployment, mode, "", std::move(done));
}

void NetworkManager::CheckAttached(const std::string& id, const std::string& deployment,
                                   AttachMode mode, AttachDone done) {
  RunOff(
      files_, loop_, [this, id] { return netns_.IsNamespace(id); },
      [this, id, deployment, mode, done = std::move(done)](bool alive) mutable {
        auto found = attachments_.find(id);
        if (found == attachments_.end()) {
          return Attach(id, deployment, mode, std::move(done));  // detached meanwhile
        }
        if (alive) return done(found->second);
        const Attachment lost = std::move(found->second);
        attachments_.erase(found);
        log_.Warn("{}: its network namespace {} is gone (the node restarted); restoring it{}", id,
                  lost.netns, lost.address.empty() ? "" : " with address " + lost.address);
        released_.erase(lost.deployment);
        if (Gated(lost.deployment)) {
          queued_.push_back({id, lost.deployment, lost.mode, lost.address, std::move(done)});
          return;
        }
        StartAttach(id, lost.deployment, lost.mode, lost.address, std::move(done));
      });
}

void NetworkManager::RunQueued() {
  std::deque<Queued> waiting;
  waiting.swap(queued_);
  for (Queued& q : waiting) {
    if (Gated(q.deployment)) {
      queued_.push_back(std::move(q));
    } else if (!q.address.empty()) {
      StartAttach(q.id, q.deployment, q.mode, q.address, std::move(q.done));
    } else {
      Attach(q.id, q.deployment, q.mode, std::move(q.done));
    }
  }
}

void NetworkManager::StartAttach(const std::string& id, const std::string& deployment,
                                 AttachMode mode, std::string address, AttachDone done) {
  attaching_.insert(id);
  struct Prepared {
    std::string subnet;
    std::string netns;
  };
  RunOff(
      files_, loop_,
      [this, id, deployment, mode, address]() -> Result<Prepared> {
        Prepared prepared;
        if (mode == AttachMode::kBridge) {
          Result<std::string> subnet = subnets_->Allocate(deployment);
          if (!subnet.ok()) return subnet.status().Wrap("subnet of " + deployment);
          prepared.subnet = std::move(*subnet);
        }
        if (!address.empty()) {
          // host-local still holds the address for this id: free it, so that
          // it can be asked for again.
          for (const auto& [file, holder] : Reservations(IpamDir())) {
            std::error_code ec;
            if (holder == id) fs::remove(file, ec);
          }
        }
        Result<std::string> path = netns_.Create(id);
        if (!path.ok() && path.status().code() == StatusCode::kAlreadyExists &&
            !netns_.IsNamespace(id)) {
          // A file left where a namespace was (its mount is gone): replace it.
          Status removed = netns_.Remove(id);
          if (!removed.ok()) return removed.Wrap("network namespace");
          path = netns_.Create(id);
        }
        if (!path.ok() && path.status().code() != StatusCode::kAlreadyExists) {
          return path.status().Wrap("network namespace");
        }
        prepared.netns = path.ok() ? *path : netns_.PathOf(id);
        return prepared;
      },
      [this, id, deployment, mode, address,
       done = std::move(done)](Result<Prepared> prepared) mutable {
        if (!prepared.ok()) {
          attaching_.erase(id);
          return done(prepared.status());
        }
        Attachment a;
        a.container_id = id;
        a.deployment = deployment;
        a.mode = mode;
        a.netns = prepared->netns;
        a.subnet = prepared->subnet;
        if (mode == AttachMode::kLoopbackOnly) return AddLoopback(std::move(a), std::move(done));
        invoker_.Add(BridgeList(deployment, a.subnet), {id, a.netns, "eth0", address},
                     [this, a, done = std::move(done)](Result<cni::CniResult> added) mutable {
                       if (added.ok()) {
                         a.address = added->AddressOf("eth0");
                         a.cni_result = added->raw;
                         a.gateway = GatewayOf(a.subnet);
                         if (a.address.empty()) {
                           added = Status(StatusCode::kInternal,
                                          "cni bridge ADD for " + a.container_id +
                                              ": the result names no address on eth0");
                         }
                       }
                       if (!added.ok()) return UndoAttach(a, added.status(), std::move(done));
                       AddLoopback(std::move(a), std::move(done));
                     });
      });
}

void NetworkManager::AddLoopback(Attachment a, AttachDone done) {
  const cni::Attachment where{a.container_id, a.netns, "lo"};
  invoker_.Add(
      cni::LoopbackNetworkList(), where,
      [this, a = std::move(a), done = std::move(done)](Result<cni::CniResult> added) mutable {
        if (!added.ok()) return UndoAttach(a, added.status(), std::move(done));
        RunOff(
            files_, loop_,
            [this, a] {
              return WriteFileDurably(AttachmentPath(a.container_id),
                                      AttachmentToJson(a).dump() + "\n");
            },
            [this, a, done = std::move(done)](Status saved) mutable {
              if (!saved.ok()) {
                return UndoAttach(a, saved.Wrap("keep the attachment"), std::move(done));
              }
              attaching_.erase(a.container_id);
              attachments_[a.container_id] = a;
              log_.Info("{}: network {} {}", a.container_id, ModeName(a.mode),
                        a.address.empty() ? "(loopback only)" : a.address);
              done(std::move(a));
            });
      });
}

void NetworkManager::UndoAttach(const Attachment& partial, Status error, AttachDone done) {
  auto finish = [this, partial, error, done = std::move(done)](Status) mutable {
    RunOff(
        files_, loop_,
        [this, id = partial.container_id] {
          (void)netns_.Remove(id);
          ::unlink(AttachmentPath(id).c_str());
        },
        [this, partial, error, done = std::move(done)]() mutable {
          attaching_.erase(partial.container_id);
          MaybeRelease(partial.deployment);
          done(error);
        });
  };
  if (partial.mode != AttachMode::kBridge) return finish(Status::Ok());
  invoker_.Del(BridgeList(partial.deployment, partial.subnet),
               {partial.container_id, partial.netns, "eth0"}, partial.cni_result,
               std::move(finish));
}

void NetworkManager::Detach(const std::string& id, std::function<void(Status)> done) {
  auto found = attachments_.find(id);
  if (found == attachments_.end()) {
    return RunOff(
        files_, loop_, [this, id] { return netns_.Remove(id); },
        [done = std::move(done)](Status removed) { done(removed); });
  }
  const Attachment a = found->second;
  auto remove = [this, a, done = std::move(done)](Status deleted) mutable {
    RunOff(
        files_, loop_,
        [this, id = a.container_id] {
          Status removed = netns_.Remove(id);
          if (::unlink(AttachmentPath(id).c_str()) != 0 && errno != ENOENT && removed.ok()) {
            removed = ErrnoError("remove " + AttachmentPath(id));
          }
          return removed;
        },
        [this, a, deleted, done = std::move(done)](Status removed) mutable {
          attachments_.erase(a.container_id);
          MaybeRelease(a.deployment);
          done(!deleted.ok() ? deleted : removed);
        });
  };
  if (a.mode != AttachMode::kBridge) return remove(Status::Ok());
  invoker_.Del(BridgeList(a.deployment, a.subnet), {a.container_id, a.netns, "eth0"}, a.cni_result,
               std::move(remove));
}

void NetworkManager::ReleaseDeployment(const std::string& deployment) {
  released_.insert(deployment);
  MaybeRelease(deployment);
}

void NetworkManager::MaybeRelease(const std::string& deployment) {
  if (!released_.count(deployment) || releasing_.count(deployment)) return;
  for (const auto& [id, a] : attachments_) {
    if (a.deployment == deployment) return;
  }
  for (const Queued& q : queued_) {
    if (q.deployment == deployment) return;
  }
  // Attaches in progress hold the subnet too (they are not in attachments_ yet).
  // Their deployment was deployed again (Attach erased it from released_), so
  // reaching here with one is not possible; the check above is enough.
  released_.erase(deployment);
  releasing_.insert(deployment);
  RunOff(
      files_, loop_,
      [this, deployment]() -> std::vector<std::string> {
        std::vector<std::string> bridges;
        auto subnets = subnets_->Allocations();
        if (auto it = subnets.find(deployment); it != subnets.end()) {
          if (auto cidr = Ipv4Cidr::Parse(it->second); cidr.ok()) {
            bridges.push_back(BridgeName(*cidr));
          }
        }
        std::error_code ec;
        fs::remove_all(fs::path(IpamDir()) / NetworkName(deployment), ec);
        return bridges;
      },
      [this, deployment](std::vector<std::string> bridges) {
        DeleteBridges(bridges, [this, deployment] {
          // The subnet goes last: a new deployment must not get it while its
          // bridge still exists.
          RunOff(
              files_, loop_, [this, deployment] { return subnets_->Release(deployment); },
              [this, deployment](Status released) {
                if (!released.ok()) {
                  log_.Warn("releasing the subnet of {}: {}", deployment, released.message());
                }
                releasing_.erase(deployment);
                log_.Info("network of deployment {} released", deployment);
                RunQueued();
              });
        });
      });
}

void NetworkManager::DeleteBridges(std::vector<std::string> bridges, std::function<void()> done) {
  if (bridges.empty()) return done();
  const std::string bridge = bridges.back();
  bridges.pop_back();
  ProcessRequest request;
  request.program = options_.ip_program;
  request.args = {"link", "delete", bridge};
  request.timeout = std::chrono::seconds(10);
  runner_.Run(std::move(request), [this, bridge, bridges = std::move(bridges),
                                   done = std::move(done)](Result<ProcessResult> ran) mutable {
    if (!ran.ok()) {
      log_.Warn("deleting bridge {}: {}", bridge, ran.status().message());
    } else if (ran->exit_code != 0 &&
               ran->stderr_data.find("Cannot find device") == std::string::npos) {
      log_.Warn("deleting bridge {}: ip exited {}: {}", bridge, ran->exit_code, ran->stderr_data);
    }
    DeleteBridges(std::move(bridges), std::move(done));
  });
}

void NetworkManager::Prune(std::set<std::string> containers, std::set<std::string> deployments,
                           std::function<void()> done) {
  pruning_ = true;
  // Containers that are gone: a full Detach each (CNI DEL with the kept result).
  std::vector<std::string> gone;
  for (const auto& [id, a] : attachments_) {
    if (!containers.count(id) && !attaching_.count(id)) gone.push_back(id);
  }
  auto remaining = std::make_shared<size_t>(gone.size() + 1);
  auto after_detaches = [this, containers, deployments, done = std::move(done),
                         remaining]() mutable {
    if (--*remaining > 0) return;
    std::set<std::string> keep_ids = containers;
    for (const auto& [id, a] : attachments_) keep_ids.insert(id);
    for (const std::string& id : attaching_) keep_ids.insert(id);
    struct Leftovers {
      int files = 0;
      std::vector<std::string> released;  // deployments whose subnet is no longer wanted
    };
    RunOff(
        files_, loop_,
        [this, keep_ids, deployments] {
          Leftovers left;
          if (auto names = netns_.List(); names.ok()) {
            for (const std::string& name : *names) {
              if (keep_ids.count(name)) continue;
              if (netns_.Remove(name).ok()) ++left.files;
            }
          }
          for (const auto& [file, id] : Reservations(IpamDir())) {
            if (keep_ids.count(id)) continue;
            std::error_code ec;
            if (fs::remove(file, ec)) ++left.files;
          }
          std::error_code ec;
          for (const auto& entry :
               fs::directory_iterator(options_.data_dir + "/network/attachments", ec)) {
            const std::string id = entry.path().stem();
            if (keep_ids.count(id)) continue;
            if (fs::remove(entry.path(), ec)) ++left.files;
          }
          for (const auto& [deployment, subnet] : subnets_->Allocations()) {
            if (!deployments.count(deployment)) left.released.push_back(deployment);
          }
          return left;
        },
        [this, done = std::move(done)](Leftovers left) mutable {
          if (left.files > 0) log_.Info("removed {} network leftover(s)", left.files);
          // Bridges of this node's range that no subnet names.
          ProcessRequest request;
          request.program = options_.ip_program;
          request.args = {"-j", "link", "show", "type", "bridge"};
          request.timeout = std::chrono::seconds(10);
          runner_.Run(
              std::move(request), [this, released = std::move(left.released),
                                   done = std::move(done)](Result<ProcessResult> ran) mutable {
                std::set<std::string> wanted;
                for (const auto& [deployment, subnet] : subnets_->Allocations()) {
                  if (auto cidr = Ipv4Cidr::Parse(subnet); cidr.ok()) {
                    wanted.insert(BridgeName(*cidr));
                  }
                }
                std::vector<std::string> stray;
                if (ran.ok() && ran->exit_code == 0) {
                  json links = json::parse(ran->stdout_data, nullptr, false);
                  const std::string prefix = BridgePrefix(options_.range);
                  if (links.is_array()) {
                    for (const json& link : links) {
                      std::string name = link.value("ifname", "");
                      if (name.starts_with(prefix) && name.size() == 10 && !wanted.count(name)) {
                        stray.push_back(name);
                      }
                    }
                  }
                }
                DeleteBridges(stray, [this, released = std::move(released),
                                      done = std::move(done)]() mutable {
                  pruning_ = false;
                  for (const std::string& deployment : released) ReleaseDeployment(deployment);
                  RunQueued();
                  if (done) done();
                });
              });
        });
  };
  for (const std::string& id : gone) {
    log_.Info("{}: its container is gone; removing its network", id);
    Detach(id, [this, id, after_detaches](Status status) mutable {
      if (!status.ok()) log_.Warn("{}: {}", id, status.message());
      after_detaches();
    });
  }
  after_detaches();
}

}  // namespace zlayer::agent::network
