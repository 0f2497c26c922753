// A reconcile::ReplicaNetwork for unit tests: answers at once on the caller's
// thread (the reconciler's loop), hands out 10.200.0.2, .3, ... to replicas
// with network_mode default, records every call, and fails the next Attach
// when told to.
#pragma once

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/reconcile/replica_operations.h"

namespace zlayer::testing {

class FakeReplicaNetwork : public reconcile::ReplicaNetwork {
 public:
  void Attach(const std::string& id, const std::string& deployment, const spec::Service& service,
              std::function<void(Result<reconcile::AttachedNetwork>)> done) override {
    calls.push_back("attach " + id);
    deployment_of[id] = deployment;
    if (!attach_failures.empty()) {
      Status failure = attach_failures.front();
      attach_failures.pop_front();
      return done(failure);
    }
    if (service.network_mode == spec::NetworkMode::kHost) return done(reconcile::AttachedNetwork{});
    auto found = attached.find(id);
    if (found == attached.end()) {
      reconcile::AttachedNetwork network;
      network.netns = "/run/zlayer/netns/" + id;
      if (service.network_mode == spec::NetworkMode::kDefault) {
        network.address = "10.200.0." + std::to_string(next_host++);
        network.nameserver = "10.200.0.1";
      }
      found = attached.emplace(id, network).first;
      ++networks_made;
    }
    done(found->second);
  }
  void Detach(const std::string& id, std::function<void(Status)> done) override {
    calls.push_back("detach " + id);
    attached.erase(id);
    done(Status::Ok());
  }
  std::string AddressOf(const std::string& id) const override {
    auto found = attached.find(id);
    return found == attached.end() ? "" : found->second.address;
  }
  void ReleaseDeployment(const std::string& deployment) override {
    calls.push_back("release " + deployment);
  }
  void Prune(std::set<std::string> containers, std::set<std::string> deployments) override {
    pruned_keeping = std::move(containers);
    pruned_deployments_keeping = std::move(deployments);
    for (auto it = attached.begin(); it != attached.end();) {
      it = pruned_keeping.count(it->first) ? std::next(it) : attached.erase(it);
    }
  }

  void Drain(const std::string& id, std::chrono::steady_clock::time_point deadline,
             std::function<void()> done) override {
    calls.push_back("drain " + id);
    drain_deadlines[id] = deadline;
    if (hold_drains) {
      held_drains.push_back(std::move(done));
      return;
    }
    done();
  }

  std::vector<std::string> calls;
  std::map<std::string, std::chrono::steady_clock::time_point> drain_deadlines;
  bool hold_drains = false;  // keep Drain's callbacks in held_drains instead of calling them
  std::vector<std::function<void()>> held_drains;
  std::map<std::string, reconcile::AttachedNetwork> attached;
  std::map<std::string, std::string> deployment_of;  // the deployment each attach named
  std::deque<Status> attach_failures;
  int networks_made = 0;  // attaches that made a network (not those answering with one)
  std::set<std::string> pruned_keeping;
  std::set<std::string> pruned_deployments_keeping;
  int next_host = 2;
};

}  // namespace zlayer::testing
