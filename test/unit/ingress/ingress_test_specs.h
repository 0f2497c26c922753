// Small builders of deployments with public endpoints, for the ingress tests.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/spec/model.h"

namespace zlayer::agent::ingress::testing {

inline spec::Endpoint Public(std::string name, spec::Protocol protocol, uint16_t port,
                             std::optional<std::string> host = std::nullopt,
                             std::optional<std::string> path = std::nullopt,
                             uint16_t target_port = 0) {
  spec::Endpoint endpoint;
  endpoint.name = std::move(name);
  endpoint.protocol = protocol;
  endpoint.port = port;
  endpoint.target_port = target_port != 0 ? target_port : port;
  endpoint.host = std::move(host);
  endpoint.path = std::move(path);
  endpoint.expose = spec::Exposure::kPublic;
  return endpoint;
}

inline spec::Endpoint Redirecting(spec::Endpoint endpoint) {
  endpoint.redirect_http = true;
  return endpoint;
}

inline spec::Endpoint Internal(spec::Endpoint endpoint) {
  endpoint.expose = spec::Exposure::kInternal;
  return endpoint;
}

// A deployment of services given as (name, endpoints).
inline spec::Deployment Deployment(
    std::string name, std::vector<std::pair<std::string, std::vector<spec::Endpoint>>> services) {
  spec::Deployment deployment;
  deployment.name = std::move(name);
  for (auto& [service_name, endpoints] : services) {
    spec::Service service;
    service.name = service_name;
    service.endpoints = std::move(endpoints);
    deployment.services[service_name] = std::move(service);
  }
  return deployment;
}

}  // namespace zlayer::agent::ingress::testing
