#include "agent/spec/model.h"

#include <cstdlib>

namespace zlayer::spec {

// Each switch covers every enumerator (-Wswitch); falling out of one is a broken invariant.

std::string_view Name(ResourceType value) {
  switch (value) {
    case ResourceType::kService:
      return "service";
    case ResourceType::kJob:
      return "job";
  }
  std::abort();
}

std::string_view Name(PullPolicy value) {
  switch (value) {
    case PullPolicy::kAlways:
      return "always";
    case PullPolicy::kIfNotPresent:
      return "if_not_present";
    case PullPolicy::kNever:
      return "never";
    case PullPolicy::kNewer:
      return "newer";
  }
  std::abort();
}

std::string_view Name(ScaleMode value) {
  switch (value) {
    case ScaleMode::kFixed:
      return "fixed";
    case ScaleMode::kManual:
      return "manual";
  }
  std::abort();
}

std::string_view Name(RestartKind value) {
  switch (value) {
    case RestartKind::kNo:
      return "no";
    case RestartKind::kAlways:
      return "always";
    case RestartKind::kUnlessStopped:
      return "unless_stopped";
    case RestartKind::kOnFailure:
      return "on_failure";
  }
  std::abort();
}

std::string_view Name(HealthCheckType value) {
  switch (value) {
    case HealthCheckType::kTcp:
      return "tcp";
    case HealthCheckType::kHttp:
      return "http";
    case HealthCheckType::kCommand:
      return "command";
  }
  std::abort();
}

std::string_view Name(DependencyCondition value) {
  switch (value) {
    case DependencyCondition::kStarted:
      return "started";
    case DependencyCondition::kHealthy:
      return "healthy";
    case DependencyCondition::kReady:
      return "ready";
  }
  std::abort();
}

std::string_view Name(TimeoutAction value) {
  switch (value) {
    case TimeoutAction::kFail:
      return "fail";
    case TimeoutAction::kWarn:
      return "warn";
    case TimeoutAction::kContinue:
      return "continue";
  }
  std::abort();
}

std::string_view Name(Protocol value) {
  switch (value) {
    case Protocol::kHttp:
      return "http";
    case Protocol::kHttps:
      return "https";
    case Protocol::kTcp:
      return "tcp";
    case Protocol::kUdp:
      return "udp";
    case Protocol::kWebsocket:
      return "websocket";
  }
  std::abort();
}

std::string_view Name(Exposure value) {
  switch (value) {
    case Exposure::kPublic:
      return "public";
    case Exposure::kInternal:
      return "internal";
  }
  std::abort();
}

std::string_view Name(NetworkMode value) {
  switch (value) {
    case NetworkMode::kDefault:
      return "default";
    case NetworkMode::kHost:
      return "host";
    case NetworkMode::kNone:
      return "none";
  }
  std::abort();
}

}  // namespace zlayer::spec
