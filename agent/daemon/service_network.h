// What the node publishes about its services' networks, derived from the
// reconciler's view after every change (level-triggered, like the reconciler):
//   - each service of network_mode default gets a stable virtual address
//     (ServiceAddressAllocator over ZLAYER_SERVICE_CIDR), kept while the
//     service exists;
//   - the nftables table (services/ruleset.h): each service address and
//     endpoint port DNATs to the service's *ready* replicas (running, and
//     healthy when it has a health check), and deployments are isolated;
//   - the DNS names (dns/dns_records.h) in dnsmasq's hosts directory:
//     <service>.<deployment>.zlayer.internal and <index>.<service>.<...>;
//   - the public udp endpoints (the ingress's UdpForward): the node's port
//     DNATs to the service's ready replicas, in the same table.
// Changes are coalesced: many changes in one turn of the loop make one
// publication; an unchanged ruleset or name file is not written again.
//
// Threading: everything on `loop`; allocations and name files on `files` (a
// pool), nft through the RuleApplier (a process on the loop). A failed apply
// is retried after a second; nothing blocks the loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/network/dns/hosts_dir_records.h"
#include "agent/network/network_manager.h"
#include "agent/network/services/rule_applier.h"
#include "agent/network/services/ruleset.h"
#include "agent/network/services/service_address_allocator.h"
#include "agent/reconcile/reconciler.h"
#include "common/clock.h"
#include "common/log.h"

namespace zlayer::agent::daemon {

// One publication's input, from the reconciler and the network manager.
struct PublishedService {
  std::string deployment;
  std::string service;
  std::vector<network::services::ServicePort> ports;  // from the endpoints
};
struct PublishedReplica {
  std::string deployment;
  std::string service;
  uint32_t index = 0;
  std::string address;  // "" without one
  bool ready = false;   // may receive new connections
};

// The rules and names for `services` and `replicas`, given each service's
// virtual address (by ServiceKey; a service without one is left out) and each
// deployment's subnet. Pure.
network::services::NetworkRules BuildRules(const std::vector<PublishedService>& services,
                                           const std::vector<PublishedReplica>& replicas,
                                           const std::map<std::string, std::string>& addresses,
                                           const std::map<std::string, std::string>& subnets);
std::map<std::string, std::vector<network::DnsRecord>> BuildNames(
    const std::vector<PublishedService>& services, const std::vector<PublishedReplica>& replicas,
    const std::map<std::string, std::string>& addresses);

// Whether a replica in `view` may receive new connections: ready as the
// reconciler counts it (ReplicaView::ready: running, not being stopped or
// removed, healthy when it has a health check, or adopted and not yet found
// unhealthy), so that an agent restart does not take adopted replicas out.
bool ReadyForTraffic(const reconcile::ReplicaView& view);

class ServiceNetwork {
 public:
  // Every reference must outlive this. `table` is the node's nftables table.
  ServiceNetwork(boost::asio::io_context& loop, boost::asio::thread_pool& files, Clock& clock,
                 reconcile::Reconciler& reconciler, network::NetworkManager& network,
                 network::services::ServiceAddressAllocator& addresses,
                 network::services::RuleApplier& rules, network::DnsRecords& names,
                 std::string table, std::string public_address, Logger& log);
  ~ServiceNetwork();

  // Subscribes to the reconciler and publishes once. Call after the
  // reconciler started (its deployments are loaded).
  void Start();

 private:
  void Schedule();
  void Publish();
  void ApplyRules(std::string script);
  void WriteNames(std::map<std::string, std::vector<network::DnsRecord>> names);

  boost::asio::io_context& loop_;
  boost::asio::thread_pool& files_;
  Clock& clock_;
  reconcile::Reconciler& reconciler_;
  network::NetworkManager& network_;
  network::services::ServiceAddressAllocator& allocator_;
  network::services::RuleApplier& rules_;
  network::DnsRecords& names_;
  const std::string table_;
  // Where the public udp endpoints listen (ZLAYER_INGRESS_ADDRESS); "" = every
  // address of the node.
  const std::string public_address_;
  Logger& log_;

  uint64_t subscription_ = 0;
  bool scheduled_ = false;
  bool allocating_ = false;                       // allocations or releases on the pool
  std::map<std::string, std::string> addresses_;  // ServiceKey -> virtual address (a copy)
  std::map<std::string, std::vector<network::DnsRecord>> written_names_;  // by deployment
  bool names_busy_ = false;
  bool names_again_ = false;
  Alarm retry_;
};

}  // namespace zlayer::agent::daemon
