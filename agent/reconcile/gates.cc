#include "agent/reconcile/gates.h"

#include <fmt/format.h>

#include "common/duration.h"

namespace zlayer::reconcile {

std::string ConditionWord(spec::DependencyCondition condition) {
  switch (condition) {
    case spec::DependencyCondition::kStarted:
      return "started";
    case spec::DependencyCondition::kHealthy:
      return "healthy";
    case spec::DependencyCondition::kReady:
      return "ready";
  }
  return "";
}

DependencyVerdict JudgeDependencies(const spec::Service& service, DependencyWait& wait,
                                    SteadyTime now,
                                    const std::function<bool(const spec::Dependency&)>& met) {
  DependencyVerdict verdict;
  if (service.depends.empty() || wait.overridden) return verdict;
  if (wait.failed) {
    verdict.blocked = true;
    return verdict;
  }
  const spec::Dependency* unmet = nullptr;
  for (const spec::Dependency& dependency : service.depends) {
    if (!met(dependency)) {
      unmet = &dependency;
      break;
    }
  }
  if (unmet == nullptr) {
    if (wait.waiting_since) verdict.event = DependencyEvent::kMet;
    wait.waiting_since.reset();
    wait.message.clear();
    return verdict;
  }
  if (!wait.waiting_since) wait.waiting_since = now;
  const auto waited = now - *wait.waiting_since;
  verdict.what = unmet->service + " to be " + ConditionWord(unmet->condition);
  verdict.timeout = unmet->timeout;
  if (waited < unmet->timeout) {
    verdict.blocked = true;
    wait.message =
        fmt::format("waiting for {} ({} of {})", verdict.what,
                    FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(waited)),
                    FormatDuration(unmet->timeout));
    verdict.wake_at = *wait.waiting_since + unmet->timeout;
    return verdict;
  }
  switch (unmet->on_timeout) {
    case spec::TimeoutAction::kFail:
      wait.failed = true;
      wait.message = fmt::format("gave up waiting for {} after {}", verdict.what,
                                 FormatDuration(unmet->timeout));
      verdict.blocked = true;
      verdict.event = DependencyEvent::kGaveUp;
      break;
    case spec::TimeoutAction::kWarn:
      verdict.event = DependencyEvent::kStartedAnyway;
      [[fallthrough]];
    case spec::TimeoutAction::kContinue:
      wait.overridden = true;
      wait.message.clear();
      break;
  }
  return verdict;
}

}  // namespace zlayer::reconcile
