// Dependency gates (`depends`), judged purely: whether a service may create
// replicas now, given which of its dependencies hold, how long it has waited,
// and what each dependency's `on_timeout` says.
//
// The reconciler keeps one DependencyWait per service and calls
// JudgeDependencies at every plan; everything here is a function of its
// arguments (no clock, no I/O, no logging: the verdict says what to log).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "agent/reconcile/restart_policy.h"
#include "agent/spec/model.h"

namespace zlayer::reconcile {

// What a service remembers about its dependencies between plans.
struct DependencyWait {
  std::optional<SteadyTime> waiting_since;  // unmet since (unset when met)
  std::string message;                      // "waiting for db to be healthy (12s of 5m)", ...
  bool failed = false;      // gave up (on_timeout: fail); stays until the next deploy
  bool overridden = false;  // gave up waiting (warn/continue); starts anyway from now on
};

// What changed at this judgement, for the log.
enum class DependencyEvent {
  kNone,
  kMet,            // had been waiting; everything holds now (Info)
  kGaveUp,         // on_timeout: fail (Error, with wait.message)
  kStartedAnyway,  // on_timeout: warn (Warn); continue says nothing
};

struct DependencyVerdict {
  bool blocked = false;               // create no replica of this service now
  std::optional<SteadyTime> wake_at;  // judge again then (a wait's deadline)
  DependencyEvent event = DependencyEvent::kNone;
  std::string what;  // the unmet dependency, "db to be healthy" (for kGaveUp/kStartedAnyway)
  std::chrono::nanoseconds timeout{0};  // its timeout (for kStartedAnyway)
};

// `met` says whether one dependency holds now. The first unmet dependency, in
// spec order, decides: while its timeout has not run out the service is
// blocked and woken at the deadline; then its on_timeout applies (fail: blocked
// for good; warn, continue: the service starts and its dependencies are not
// judged again). A service without dependencies is never blocked.
DependencyVerdict JudgeDependencies(const spec::Service& service, DependencyWait& wait,
                                    SteadyTime now,
                                    const std::function<bool(const spec::Dependency&)>& met);

// "started", "healthy", "ready".
std::string ConditionWord(spec::DependencyCondition condition);

}  // namespace zlayer::reconcile
