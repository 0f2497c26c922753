#include "agent/daemon/service_network.h"

#include <boost/asio/post.hpp>

#include "agent/daemon/ingress_controller.h"
#include "common/executors.h"

namespace zlayer::agent::daemon {

namespace services = network::services;

namespace {

std::vector<services::ServicePort> PortsOf(const spec::Service& service) {
  std::vector<services::ServicePort> ports;
  for (const spec::Endpoint& endpoint : service.endpoints) {
    services::ServicePort port;
    port.protocol = endpoint.protocol == spec::Protocol::kUdp ? services::Protocol::kUdp
                                                              : services::Protocol::kTcp;
    port.port = endpoint.port;
    port.target_port = endpoint.target_port != 0 ? endpoint.target_port : endpoint.port;
    bool seen = false;  // http and websocket endpoints may share a port
    for (const services::ServicePort& other : ports) {
      seen = seen || (other.protocol == port.protocol && other.port == port.port);
    }
    if (!seen && port.port != 0) ports.push_back(port);
  }
  return ports;
}

}  // namespace

bool ReadyForTraffic(const reconcile::ReplicaView& view) {
  return view.ready && view.state == reconcile::ReplicaState::kRunning &&
         view.health != reconcile::ReplicaHealth::kUnhealthy;
}

services::NetworkRules BuildRules(const std::vector<PublishedService>& published,
                                  const std::vector<PublishedReplica>& replicas,
                                  const std::map<std::string, std::string>& addresses,
                                  const std::map<std::string, std::string>& subnets) {
  services::NetworkRules rules;
  rules.subnets = subnets;
  for (const PublishedService& s : published) {
    auto address = addresses.find(services::ServiceKey(s.deployment, s.service));
    if (address == addresses.end()) continue;
    services::ServiceRoute route;
    route.deployment = s.deployment;
    route.service = s.service;
    route.address = address->second;
    route.ports = s.ports;
    for (const PublishedReplica& r : replicas) {
      if (r.deployment == s.deployment && r.service == s.service && r.ready && !r.address.empty()) {
        route.backends.push_back(r.address);
      }
    }
    rules.services.push_back(std::move(route));
  }
  return rules;
}

std::map<std::string, std::vector<network::DnsRecord>> BuildNames(
    const std::vector<PublishedService>& published, const std::vector<PublishedReplica>& replicas,
    const std::map<std::string, std::string>& addresses) {
  std::map<std::string, std::vector<network::ServiceAddress>> services_of;
  std::map<std::string, std::vector<network::ReplicaAddress>> replicas_of;
  for (const PublishedService& s : published) {
    auto address = addresses.find(services::ServiceKey(s.deployment, s.service));
    services_of[s.deployment].push_back(
        {s.service, address == addresses.end() ? "" : address->second});
  }
  for (const PublishedReplica& r : replicas) {
    replicas_of[r.deployment].push_back({r.service, static_cast<int>(r.index), r.address});
  }
  std::map<std::string, std::vector<network::DnsRecord>> names;
  for (const auto& [deployment, services] : services_of) {
    names[deployment] =
        network::DeploymentDnsRecords(deployment, services, replicas_of[deployment]);
  }
  return names;
}

ServiceNetwork::ServiceNetwork(boost::asio::io_context& loop, boost::asio::thread_pool& files,
                               Clock& clock, reconcile::Reconciler& reconciler,
                               network::NetworkManager& network,
                               services::ServiceAddressAllocator& addresses,
                               services::RuleApplier& rules, network::DnsRecords& names,
                               std::string table, std::string public_address, Logger& log)
    : loop_(loop),
      files_(files),
      clock_(clock),
      reconciler_(reconciler),
      network_(network),
      allocator_(addresses),
      rules_(rules),
      names_(names),
      table_(std::move(table)),
      public_address_(std::move(public_address)),
      log_(log) {}

ServiceNetwork::~ServiceNetwork() {
  if (subscription_ != 0) reconciler_.Unsubscribe(subscription_);
}

// Nothing is published before the reconciler's first plan (it comes once the
// containers are observed and adopted): an earlier table would have no
// backends and cut the connections of running replicas after an agent restart.
void ServiceNetwork::Start() {
  addresses_ = allocator_.Allocations();
  rules_.Forget();  // whatever the table holds now, the first publication replaces it
  subscription_ = reconciler_.Subscribe([this] { Schedule(); });
  // Names of deployments that are gone (a crash, a restart) are dropped by the
  // first publications: they count as written, so that "none now" differs.
  names_busy_ = true;
  RunOff(
      files_, loop_, [this] { return names_.Deployments(); },
      [this](Result<std::vector<std::string>> existing) {
        names_busy_ = false;
        if (existing.ok()) {
          for (const std::string& d : *existing) written_names_[d] = {{"(unknown)", "0.0.0.0"}};
        } else {
          log_.Warn("DNS names: {}", existing.status().message());
        }
        if (names_again_) {
          names_again_ = false;
          Schedule();
        }
      });
}

void ServiceNetwork::Schedule() {
  if (scheduled_) return;
  scheduled_ = true;
  boost::asio::post(loop_, [this] {
    scheduled_ = false;
    Publish();
  });
}

void ServiceNetwork::Publish() {
  std::vector<PublishedService> published;
  std::vector<PublishedReplica> replicas;
  std::set<std::string> wanted;
  for (const reconcile::DeploymentView& d : reconciler_.Deployments()) {
    for (const reconcile::ServiceView& s : d.services) {
      const spec::Service* spec = reconciler_.ServiceSpec(d.name, s.name);
      if (spec == nullptr || spec->network_mode != spec::NetworkMode::kDefault) continue;
      published.push_back({d.name, s.name, PortsOf(*spec)});
      wanted.insert(services::ServiceKey(d.name, s.name));
    }
    for (const reconcile::ReplicaView& r : d.replicas) {
      if (!wanted.count(services::ServiceKey(d.name, r.service))) continue;
      replicas.push_back({d.name, r.service, r.replica, r.address, ReadyForTraffic(r)});
    }
  }

  // Addresses: new services get one, services that are gone give theirs back.
  std::vector<std::pair<std::string, std::string>> allocate;  // deployment, service
  std::vector<std::pair<std::string, std::string>> release;
  for (const PublishedService& s : published) {
    if (!addresses_.count(services::ServiceKey(s.deployment, s.service))) {
      allocate.emplace_back(s.deployment, s.service);
    }
  }
  for (const auto& [key, address] : addresses_) {
    if (wanted.count(key)) continue;
    const size_t slash = key.find('/');
    release.emplace_back(key.substr(0, slash), key.substr(slash + 1));
  }
  if ((!allocate.empty() || !release.empty()) && !allocating_) {
    allocating_ = true;
    RunOff(
        files_, loop_,
        [this, allocate, release] {
          std::vector<std::string> errors;
          for (const auto& [d, s] : allocate) {
            if (Result<std::string> a = allocator_.Allocate(d, s); !a.ok()) {
              errors.push_back(std::string(a.status().message()));
            }
          }
          for (const auto& [d, s] : release) {
            if (Status r = allocator_.Release(d, s); !r.ok()) errors.emplace_back(r.message());
          }
          return errors;
        },
        [this](std::vector<std::string> errors) {
          allocating_ = false;
          for (const std::string& e : errors) log_.Error("service address: {}", e);
          addresses_ = allocator_.Allocations();
          Schedule();
        });
  }

  std::map<std::string, std::string> subnets;
  for (const auto& [id, a] : network_.Attachments()) {
    if (a.mode == network::AttachMode::kBridge) subnets[a.deployment] = a.subnet;
  }
  services::NetworkRules rules = BuildRules(published, replicas, addresses_, subnets);
  // The public udp endpoints: the ingress's, served by this table (HAProxy has no udp).
  std::set<std::string> none_drained;
  for (const ingress::UdpForward& u : DesiredProxyState(reconciler_, none_drained).udp) {
    rules.public_udp.push_back({u.port, u.target_port, u.deployment, u.service, u.backends});
  }
  rules.public_address = public_address_;
  Result<std::string> script = services::RenderRuleset(table_, rules);
  if (!script.ok()) {
    log_.Error("service rules: {}", script.status().message());
  } else {
    ApplyRules(std::move(*script));
  }
  WriteNames(BuildNames(published, replicas, addresses_));
}

void ServiceNetwork::ApplyRules(std::string script) {
  rules_.Apply(std::move(script), [this](Status applied) {
    if (applied.ok()) return;
    log_.Error("service rules: {}; retrying in 1s", applied.message());
    retry_ = clock_.At(clock_.SteadyNow() + std::chrono::seconds(1), [this] { Schedule(); });
  });
}

void ServiceNetwork::WriteNames(std::map<std::string, std::vector<network::DnsRecord>> names) {
  if (names_busy_) {
    names_again_ = true;
    return;
  }
  for (const auto& [deployment, records] : written_names_) {
    if (!names.count(deployment) && !records.empty()) names[deployment] = {};
  }
  std::map<std::string, std::vector<network::DnsRecord>> changed;
  for (auto& [deployment, records] : names) {
    auto written = written_names_.find(deployment);
    if (written == written_names_.end() ? records.empty() : written->second == records) continue;
    changed[deployment] = records;
  }
  if (changed.empty()) return;
  names_busy_ = true;
  RunOff(
      files_, loop_,
      [this, changed] {
        std::map<std::string, Status> outcome;
        for (const auto& [deployment, records] : changed) {
          outcome.emplace(deployment, names_.SetDeployment(deployment, records));
        }
        return outcome;
      },
      [this, changed](std::map<std::string, Status> outcome) {
        names_busy_ = false;
        for (const auto& [deployment, status] : outcome) {
          if (status.ok()) {
            written_names_[deployment] = changed.at(deployment);
          } else {
            log_.Error("DNS names of {}: {}", deployment, status.message());
          }
        }
        if (names_again_) {
          names_again_ = false;
          Schedule();
        }
      });
}

}  // namespace zlayer::agent::daemon
