// Each replica's own network: a network namespace per container, attached to
// its deployment's bridge through the CNI plugins (bridge + host-local +
// firewall, then loopback), or with loopback only (network_mode none).
//
// What it keeps, so that an agent restart adopts instead of re-creating:
//   <data_dir>/network/attachments/<container id>.json   one per attached container
//   <data_dir>/network/subnets.json                       deployment -> /24 (SubnetAllocator)
//   <data_dir>/network/ipam/<network>/                    host-local's reservations
//   <run_dir>/netns/<container id>                        the namespaces (Netns)
// and the bridges "zl<subnet in hex>" (common/network_names.h). Prune removes
// whichever of these belongs to no container or deployment (a crash may leave
// any of them).
//
// Threading: every public method is called on `loop`, and callbacks run there.
// File and namespace work runs on `files` (a pool), plugins through `runner` on
// the loop: nothing blocks the loop. An attach waits for a Prune or the release
// of its deployment's bridge in progress, so they never race.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "agent/network/cni/cni_invoker.h"
#include "agent/network/netns.h"
#include "agent/network/subnet_allocator.h"
#include "common/ipv4_cidr.h"
#include "common/log.h"
#include "common/process_runner.h"
#include "common/status.h"

namespace zlayer::agent::network {

enum class AttachMode { kBridge, kLoopbackOnly };

// One container's network, as kept on disk.
struct Attachment {
  std::string container_id;
  std::string deployment;
  AttachMode mode = AttachMode::kBridge;
  std::string netns;          // the namespace's path
  std::string subnet;         // kBridge: the deployment's subnet, e.g. "10.200.3.0/24"
  std::string address;        // kBridge: the container's address on it, e.g. "10.200.3.2"
  std::string gateway;        // kBridge: the bridge's address, e.g. "10.200.3.1"
  nlohmann::json cni_result;  // kBridge: the bridge list's ADD result (prevResult of DEL)
};
nlohmann::json AttachmentToJson(const Attachment& attachment);
// kDataLoss naming the field for a document that is not an attachment.
Result<Attachment> AttachmentFromJson(const nlohmann::json& json);

struct NetworkManagerOptions {
  std::string data_dir;  // ZLAYER_DATA_DIR
  std::string run_dir;   // ZLAYER_RUN_DIR
  Ipv4Cidr range;        // ZLAYER_NETWORK_CIDR
  cni::InvokerOptions invoker;
  // iproute2's `ip`, to delete a released deployment's bridge; "" finds it in
  // /usr/sbin, /sbin, /usr/bin, /bin.
  std::string ip_program;
};

class NetworkManager {
 public:
  // Reads the attachments kept on disk. Blocking: call before the loop serves
  // (or on a pool). `subnets` may be fed by a cluster later; every reference
  // must outlive the manager.
  static Result<std::unique_ptr<NetworkManager>> Open(boost::asio::io_context& loop,
                                                      boost::asio::thread_pool& files,
                                                      ProcessRunner& runner,
                                                      std::unique_ptr<SubnetAllocator> subnets,
                                                      NetworkManagerOptions options, Logger& log);

  using AttachDone = std::function<void(Result<Attachment>)>;
  // Attaches container `id` of `deployment` (see the top of this file). An id
  // already attached gets its attachment as it is while its namespace lives;
  // when the namespace was lost (the node restarted: the record outlives the
  // mount), it is restored: a new namespace, attached again with the address
  // the record names. A failure part-way undoes what was done (CNI DEL,
  // namespace and record removed, so the next Attach starts afresh) and names
  // the step.
  void Attach(const std::string& id, const std::string& deployment, AttachMode mode,
              AttachDone done);
  // Runs CNI DEL (with the kept ADD result), removes the namespace and the
  // record. OK for an id with no attachment (its namespace file is removed if
  // one is left). The record goes even when a plugin fails (reported), so
  // nothing is retried forever; Prune removes what the plugin left.
  void Detach(const std::string& id, std::function<void(Status)> done);
  // nullptr when `id` has no attachment.
  const Attachment* Find(const std::string& id) const;
  const std::map<std::string, Attachment>& Attachments() const { return attachments_; }
  // The deployment is gone: once none of its containers is attached, its
  // bridge is deleted, its host-local state removed and its subnet released.
  void ReleaseDeployment(const std::string& deployment);
  // Removes the network of every container not in `containers` and of every
  // deployment not in `deployments`: attachments, namespaces, host-local
  // reservations, subnets, and bridges of this node's range that no subnet
  // names. `done` (optional) once finished.
  void Prune(std::set<std::string> containers, std::set<std::string> deployments,
             std::function<void()> done = nullptr);

  // The CNI network (list) name of `deployment`'s bridge network: unique per
  // node range, since plugins name iptables chains after it.
  std::string NetworkName(const std::string& deployment) const;

 private:
  NetworkManager(boost::asio::io_context& loop, boost::asio::thread_pool& files,
                 ProcessRunner& runner, std::unique_ptr<SubnetAllocator> subnets,
                 NetworkManagerOptions options, Logger& log);

  cni::NetworkList BridgeList(const std::string& deployment, const std::string& subnet) const;
  std::string AttachmentPath(const std::string& id) const;
  std::string IpamDir() const;
  // `address`: the one to ask IPAM for (a restore), or "".
  void StartAttach(const std::string& id, const std::string& deployment, AttachMode mode,
                   std::string address, AttachDone done);
  // Attach of an id with a record: checks its namespace off the loop.
  void CheckAttached(const std::string& id, const std::string& deployment, AttachMode mode,
                     AttachDone done);
  // The loopback plugin, then the record kept on disk; then `done`.
  void AddLoopback(Attachment a, AttachDone done);
  // After a failed ADD: undoes it, then reports `error`.
  void UndoAttach(const Attachment& partial, Status error, AttachDone done);
  void MaybeRelease(const std::string& deployment);
  void DeleteBridges(std::vector<std::string> bridges, std::function<void()> done);
  // Runs queued attaches whose gate has opened.
  void RunQueued();
  bool Gated(const std::string& deployment) const;

  boost::asio::io_context& loop_;
  boost::asio::thread_pool& files_;
  ProcessRunner& runner_;
  std::unique_ptr<SubnetAllocator> subnets_;
  NetworkManagerOptions options_;
  Logger& log_;
  Netns netns_;
  cni::Invoker invoker_;
  std::map<std::string, Attachment> attachments_;  // by container id
  std::set<std::string> attaching_;                // ids with an attach in progress
  std::set<std::string> released_;                 // deployments to release once empty
  std::set<std::string> releasing_;                // deployments whose release is running
  bool pruning_ = false;
  struct Queued {
    std::string id;
    std::string deployment;
    AttachMode mode;
    std::string address;  // to restore, or ""
    AttachDone done;
  };
  std::deque<Queued> queued_;  // attaches waiting for a prune or a release
};

}  // namespace zlayer::agent::network
