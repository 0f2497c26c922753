#include "cmd/zlayer/render.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cmd/zlayer/format.h"
#include "common/rfc3339.h"

namespace zlayer::cli {

using google::protobuf::util::TimeUtil;

std::chrono::nanoseconds ToNanos(const google::protobuf::Duration& d) {
  return std::chrono::nanoseconds(TimeUtil::DurationToNanoseconds(d));
}

Clock::time_point ToTimePoint(const google::protobuf::Timestamp& t) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(TimeUtil::TimestampToNanoseconds(t))));
}

google::protobuf::Timestamp ToTimestamp(Clock::time_point t) {
  return TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

namespace {

std::string RolloutStateName(v1::Rollout::State state);

// The word of an enum value in JSON: the table's word where the table has one, else the
// value's name without its type's prefix, lower case ("TYPE_JOB" -> "job"). Null for an
// unset value (the table's "-").
nlohmann::ordered_json EnumWord(const google::protobuf::EnumValueDescriptor& value) {
  const google::protobuf::EnumDescriptor& type = *value.type();
  std::string word;
  if (&type == v1::Replica::State_descriptor()) {
    word = ReplicaStateName(static_cast<v1::Replica::State>(value.number()));
  } else if (&type == v1::Replica::Health_descriptor()) {
    word = HealthName(static_cast<v1::Replica::Health>(value.number()));
  } else if (&type == v1::Deployment::Phase_descriptor()) {
    word = PhaseName(static_cast<v1::Deployment::Phase>(value.number()));
  } else if (&type == v1::UpdateStrategy_descriptor()) {
    word = StrategyName(static_cast<v1::UpdateStrategy>(value.number()));
  } else if (&type == v1::Rollout::State_descriptor()) {
    word = RolloutStateName(static_cast<v1::Rollout::State>(value.number()));
  } else if (value.number() == 0 && value.name().ends_with("_UNSPECIFIED")) {
    word = "-";
  } else {
    word = value.name();
    // The prefix is what every value of the type shares up to its last '_'.
    std::string prefix = type.value(0)->name();
    for (int i = 1; i < type.value_count(); ++i) {
      const std::string& other = type.value(i)->name();
      size_t n = 0;
      while (n < prefix.size() && n < other.size() && prefix[n] == other[n]) ++n;
      prefix.resize(n);
    }
    prefix.resize(prefix.rfind('_') == std::string::npos ? 0 : prefix.rfind('_') + 1);
    word = word.substr(prefix.size());
    for (char& c : word) c = c == '_' ? ' ' : static_cast<char>(std::tolower(c));
  }
  if (word == "-") return nullptr;
  return word;
}

nlohmann::ordered_json MessageJson(const google::protobuf::Message& message);

nlohmann::ordered_json FieldValue(const google::protobuf::Message& message,
                                  const google::protobuf::FieldDescriptor& field, int index) {
  using FD = google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection& r = *message.GetReflection();
  const bool repeated = field.is_repeated();
  switch (field.cpp_type()) {
    case FD::CPPTYPE_INT32:
      return repeated ? r.GetRepeatedInt32(message, &field, index) : r.GetInt32(message, &field);
    case FD::CPPTYPE_INT64:
      return repeated ? r.GetRepeatedInt64(message, &field, index) : r.GetInt64(message, &field);
    case FD::CPPTYPE_UINT32:
      return repeated ? r.GetRepeatedUInt32(message, &field, index) : r.GetUInt32(message, &field);
    case FD::CPPTYPE_UINT64:
      return repeated ? r.GetRepeatedUInt64(message, &field, index) : r.GetUInt64(message, &field);
    case FD::CPPTYPE_DOUBLE:
      return repeated ? r.GetRepeatedDouble(message, &field, index) : r.GetDouble(message, &field);
    case FD::CPPTYPE_FLOAT:
      return repeated ? r.GetRepeatedFloat(message, &field, index) : r.GetFloat(message, &field);
    case FD::CPPTYPE_BOOL:
      return repeated ? r.GetRepeatedBool(message, &field, index) : r.GetBool(message, &field);
    case FD::CPPTYPE_STRING:
      return repeated ? r.GetRepeatedString(message, &field, index) : r.GetString(message, &field);
    case FD::CPPTYPE_ENUM:
      return EnumWord(repeated ? *r.GetRepeatedEnum(message, &field, index)
                               : *r.GetEnum(message, &field));
    case FD::CPPTYPE_MESSAGE: {
      if (!repeated && !r.HasField(message, &field)) return nullptr;
      const google::protobuf::Message& sub =
          repeated ? r.GetRepeatedMessage(message, &field, index) : r.GetMessage(message, &field);
      const google::protobuf::Descriptor* type = sub.GetDescriptor();
      if (type == google::protobuf::Duration::descriptor()) {
        const auto& d = static_cast<const google::protobuf::Duration&>(sub);
        return static_cast<double>(d.seconds()) + static_cast<double>(d.nanos()) / 1e9;
      }
      if (type == google::protobuf::Timestamp::descriptor()) {
        return FormatRfc3339Nano(ToTimePoint(static_cast<const google::protobuf::Timestamp&>(sub)));
      }
      return MessageJson(sub);
    }
  }
  return nullptr;
}

nlohmann::ordered_json MessageJson(const google::protobuf::Message& message) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  const google::protobuf::Descriptor& type = *message.GetDescriptor();
  const google::protobuf::Reflection& r = *message.GetReflection();
  for (int i = 0; i < type.field_count(); ++i) {
    const google::protobuf::FieldDescriptor& field = *type.field(i);
    // Of a oneof, only the member that is set.
    if (field.containing_oneof() != nullptr && !field.containing_oneof()->is_synthetic() &&
        !r.HasField(message, &field)) {
      continue;
    }
    if (field.is_map()) {
      // Sorted by key, so the output is stable.
      std::map<std::string, nlohmann::ordered_json> entries;
      for (int j = 0; j < r.FieldSize(message, &field); ++j) {
        const google::protobuf::Message& entry = r.GetRepeatedMessage(message, &field, j);
        nlohmann::ordered_json key = FieldValue(entry, *entry.GetDescriptor()->map_key(), 0);
        entries[key.is_string() ? key.get<std::string>() : key.dump()] =
            FieldValue(entry, *entry.GetDescriptor()->map_value(), 0);
      }
      nlohmann::ordered_json map = nlohmann::ordered_json::object();
      for (auto& [key, value] : entries) map[key] = std::move(value);
      out[field.name()] = std::move(map);
    } else if (field.is_repeated()) {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (int j = 0; j < r.FieldSize(message, &field); ++j) {
        list.push_back(FieldValue(message, field, j));
      }
      out[field.name()] = std::move(list);
    } else if (field.has_presence() &&
               field.cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE &&
               !r.HasField(message, &field)) {
      out[field.name()] = nullptr;  // an unset `optional`
    } else {
      out[field.name()] = FieldValue(message, field, 0);
    }
  }
  return out;
}

}  // namespace

Result<std::string> ToJson(const google::protobuf::Message& message) {
  std::string json =
      MessageJson(message).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  return json + "\n";
}

std::string ReplicaStateName(v1::Replica::State state) {
  switch (state) {
    case v1::Replica::STATE_PENDING:
      return "pending";
    case v1::Replica::STATE_STARTING:
      return "starting";
    case v1::Replica::STATE_RUNNING:
      return "running";
    case v1::Replica::STATE_BACKOFF:
      return "backoff";
    case v1::Replica::STATE_EXITED:
      return "exited";
    case v1::Replica::STATE_FAILED:
      return "failed";
    case v1::Replica::STATE_COMPLETED:
      return "completed";
    case v1::Replica::STATE_STOPPING:
      return "stopping";
    case v1::Replica::STATE_UNKNOWN:
      return "unknown";
    default:
      return "-";
  }
}

std::string HealthName(v1::Replica::Health health) {
  switch (health) {
    case v1::Replica::HEALTH_STARTING:
      return "starting";
    case v1::Replica::HEALTH_HEALTHY:
      return "healthy";
    case v1::Replica::HEALTH_UNHEALTHY:
      return "unhealthy";
    default:
      return "-";
  }
}

std::string PhaseName(v1::Deployment::Phase phase) {
  switch (phase) {
    case v1::Deployment::PHASE_PROGRESSING:
      return "progressing";
    case v1::Deployment::PHASE_CONVERGED:
      return "converged";
    case v1::Deployment::PHASE_DEGRADED:
      return "degraded";
    case v1::Deployment::PHASE_ROLLOUT_STOPPED:
      return "rollout stopped";
    case v1::Deployment::PHASE_DELETING:
      return "deleting";
    default:
      return "-";
  }
}

std::string StrategyName(v1::UpdateStrategy strategy) {
  switch (strategy) {
    case v1::UPDATE_STRATEGY_ROLLING:
      return "rolling";
    case v1::UPDATE_STRATEGY_STOP_FIRST:
      return "stop-first";
    default:
      return "-";
  }
}

namespace {

std::string RolloutStateName(v1::Rollout::State state) {
  switch (state) {
    case v1::Rollout::STATE_IN_PROGRESS:
      return "in progress";
    case v1::Rollout::STATE_COMPLETE:
      return "complete";
    case v1::Rollout::STATE_STOPPED:
      return "stopped";
    default:
      return "-";
  }
}

std::string Ago(const google::protobuf::Timestamp& t, Clock::time_point now) {
  return FormatSpan(now - ToTimePoint(t)) + " ago";
}

std::string UptimeCell(const v1::Replica& r, Clock::time_point now) {
  if (r.state() == v1::Replica::STATE_BACKOFF && r.has_next_restart_at()) {
    auto wait = ToTimePoint(r.next_restart_at()) - now;
    if (wait <= Clock::duration::zero()) return "restarting";
    return "next restart in " + FormatSpan(wait);
  }
  if (r.has_uptime()) return FormatSpan(ToNanos(r.uptime()));
  return "-";
}

std::string Replicas(uint32_t n) { return Plural(n, "replica"); }

}  // namespace

std::string FormatExit(const v1::ExitStatus& exit) {
  std::string text = std::to_string(exit.code());
  if (!exit.signal().empty()) text += "/" + exit.signal();
  if (!exit.reason().empty()) text += " (" + exit.reason() + ")";
  return text;
}

std::string RenderReplicaTable(const v1::ListResponse& list, Clock::time_point now) {
  Table table({"CONTAINER", "SERVICE", "STATE", "HEALTH", "PID", "ADDRESS", "RESTARTS", "EXIT",
               "UPTIME", "IMAGE"});
  for (const auto& d : list.deployments()) {
    for (const auto& s : d.services()) {
      for (const auto& r : s.replicas()) {
        table.AddRow({r.container_id(), d.name() + "/" + s.name(), ReplicaStateName(r.state()),
                      HealthName(r.health()), r.pid() != 0 ? std::to_string(r.pid()) : "-",
                      r.address().empty() ? "-" : r.address(), std::to_string(r.restart_count()),
                      r.has_last_exit() ? FormatExit(r.last_exit()) : "-", UptimeCell(r, now),
                      r.image().empty() ? s.image() : r.image()});
      }
    }
  }
  return table.Render();
}

std::string RenderListNotes(const v1::ListResponse& list) {
  std::string notes;
  for (const auto& d : list.deployments()) {
    if (d.phase() != v1::Deployment::PHASE_CONVERGED &&
        d.phase() != v1::Deployment::PHASE_UNSPECIFIED) {
      notes += fmt::format("{}: {} (generation {}, observed {})", d.name(), PhaseName(d.phase()),
                           d.generation(), d.observed_generation());
      if (!d.message().empty()) notes += ": " + d.message();
      notes += '\n';
    }
    for (const auto& s : d.services()) {
      if (s.has_rollout() && (s.rollout().state() == v1::Rollout::STATE_IN_PROGRESS ||
                              s.rollout().state() == v1::Rollout::STATE_STOPPED)) {
        const auto& ro = s.rollout();
        notes += fmt::format("{}/{}: rollout of generation {} {}, {}/{} updated ({})", d.name(),
                             s.name(), ro.generation(), RolloutStateName(ro.state()), ro.updated(),
                             ro.total(), StrategyName(ro.strategy()));
        if (!ro.message().empty()) notes += ": " + ro.message();
        notes += '\n';
      }
      if (s.replicas_size() == 0 && s.desired_replicas() > 0) {
        notes += fmt::format("{}/{}: no replicas yet ({} desired)\n", d.name(), s.name(),
                             s.desired_replicas());
      }
      for (const auto& r : s.replicas()) {
        bool fine = (r.state() == v1::Replica::STATE_RUNNING &&
                     r.health() != v1::Replica::HEALTH_UNHEALTHY) ||
                    r.state() == v1::Replica::STATE_COMPLETED;
        if (!fine && !r.message().empty()) {
          notes += fmt::format("{}: {}\n", r.container_id(), r.message());
        }
      }
    }
  }
  return notes;
}

DeploymentHealth JudgeDeploymentHealth(const v1::Deployment& d) {
  auto fine = [](const v1::Replica& r) {
    return (r.state() == v1::Replica::STATE_RUNNING &&
            r.health() != v1::Replica::HEALTH_UNHEALTHY) ||
           r.state() == v1::Replica::STATE_COMPLETED;
  };
  auto failing = [](const v1::Replica& r) {
    return r.state() == v1::Replica::STATE_BACKOFF || r.state() == v1::Replica::STATE_FAILED ||
           r.state() == v1::Replica::STATE_UNKNOWN || r.health() == v1::Replica::HEALTH_UNHEALTHY;
  };
  const std::string head = fmt::format("deployment {}: {}", d.name(), PhaseName(d.phase()));
  const v1::Replica* first_failing = nullptr;
  const v1::Replica* first_not_fine = nullptr;
  uint32_t running = 0;
  for (const auto& s : d.services()) {
    for (const auto& r : s.replicas()) {
      if (r.state() == v1::Replica::STATE_RUNNING) ++running;
      if (first_failing == nullptr && failing(r)) first_failing = &r;
      if (first_not_fine == nullptr && !fine(r)) first_not_fine = &r;
    }
  }
  if (d.phase() == v1::Deployment::PHASE_CONVERGED && first_failing == nullptr) {
    return {true, fmt::format("{}, {} running", head, Replicas(running))};
  }
  const v1::Replica* culprit = first_failing != nullptr ? first_failing : first_not_fine;
  if (culprit == nullptr) {
    return {false, d.message().empty() ? head : head + ": " + d.message()};
  }
  const v1::Replica& r = *culprit;
  std::string text =
      fmt::format("{}: replica {} {}", head, r.container_id(), ReplicaStateName(r.state()));
  if (r.health() != v1::Replica::HEALTH_NONE) text += ", " + HealthName(r.health());
  text += ", " + Plural(r.restart_count(), "restart");
  if (r.has_last_exit()) text += ", last exit " + FormatExit(r.last_exit());
  if (!r.message().empty()) text += ": " + r.message();
  return {false, text};
}

std::string RenderImageTable(const v1::ListImagesResponse& images) {
  Table table({"NAME", "DIGEST", "SIZE", "UNPACKED"});
  for (const auto& i : images.images()) {
    table.AddRow(
        {i.name(), ShortDigest(i.digest()), FormatBytes(i.size()), i.unpacked() ? "yes" : "no"});
  }
  return table.Render();
}

std::string RenderRoutesTable(const v1::ListRoutesResponse& routes) {
  Table table({"PORT", "KIND", "HOST", "PATH", "TARGET", "CERT", "REPLICAS"});
  for (const v1::Listener& l : routes.listeners()) {
    for (const v1::Route& r : l.routes()) {
      std::string target =
          r.redirect_to_port() != 0
              ? fmt::format("redirect to https :{}", r.redirect_to_port())
              : fmt::format("{}/{}:{}", r.deployment(), r.service(), r.target_port());
      std::string in;
      std::string out;
      for (const v1::RouteReplica& replica : r.replicas()) {
        if (replica.in_rotation()) {
          in += (in.empty() ? "" : ", ") + replica.container_id();
        } else {
          std::string state = ReplicaStateName(replica.state());
          if (replica.health() == v1::Replica::HEALTH_UNHEALTHY ||
              replica.health() == v1::Replica::HEALTH_STARTING) {
            state += ", " + HealthName(replica.health());
          }
          out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", replica.container_id(), state);
        }
      }
      std::string replicas = in.empty() && out.empty() ? "-" : in;
      if (!out.empty()) replicas += (in.empty() ? "" : ", ") + out;
      if (r.redirect_to_port() != 0) replicas = "-";
      table.AddRow({std::to_string(l.port()), l.kind(), r.host().empty() ? "*" : r.host(),
                    r.path().empty() ? "-" : r.path(), target,
                    l.kind() == "https" && !r.certificate().empty() ? r.certificate() : "-",
                    replicas});
    }
  }
  return table.Render();
}

namespace {

// A cell or a note line is one line.
std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  return text;
}

}  // namespace

std::string RenderRoutesNotes(const v1::ListRoutesResponse& routes) {
  std::string notes;
  std::set<std::string> seen;
  for (const v1::Listener& l : routes.listeners()) {
    if (l.kind() != "https") continue;
    for (const v1::Route& r : l.routes()) {
      if (r.certificate_note().empty()) continue;
      std::string line = fmt::format("note: {}: {}\n", r.host().empty() ? "*" : r.host(),
                                     OneLine(r.certificate_note()));
      if (seen.insert(line).second) notes += line;
    }
  }
  return notes;
}

namespace {

// Days are what matters for a certificate's life: "89d" from 2 days on, FormatSpan below.
std::string CertificateSpan(Clock::duration span) {
  if (span >= std::chrono::hours(48)) {
    return fmt::format("{}d", std::chrono::duration_cast<std::chrono::hours>(span).count() / 24);
  }
  return FormatSpan(span);
}

std::string ExpiresCell(const v1::Certificate& c, Clock::time_point now) {
  if (!c.has_not_after()) return "-";
  const Clock::time_point end = ToTimePoint(c.not_after());
  const std::string date = FormatRfc3339Nano(end).substr(0, 10);
  if (end <= now) return fmt::format("{} (expired {} ago)", date, CertificateSpan(now - end));
  return fmt::format("{} (in {})", date, CertificateSpan(end - now));
}

std::string AcmeCell(const v1::Certificate& c, Clock::time_point now) {
  if (!c.has_acme()) return "-";
  const v1::AcmeState& acme = c.acme();
  const std::string error = OneLine(acme.last_error());
  if (acme.refused()) return error.empty() ? "refused" : "refused: " + error;
  if (acme.in_progress()) return "obtaining";
  std::string when;
  if (acme.has_next_attempt()) {
    const Clock::time_point next = ToTimePoint(acme.next_attempt());
    when = next <= now ? "now" : "in " + CertificateSpan(next - now);
  }
  if (!error.empty()) {
    return when.empty() ? "failed: " + error : fmt::format("next try {}: {}", when, error);
  }
  if (when.empty()) return "-";
  return c.source() == "acme" ? "renews " + when : "first try " + when;
}

// The certs table's order: the default ("") first, then by host.
std::vector<const v1::Certificate*> SortedCertificates(const v1::ListCertificatesResponse& certs) {
  std::vector<const v1::Certificate*> sorted;
  for (const v1::Certificate& c : certs.certificates()) sorted.push_back(&c);
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const v1::Certificate* a, const v1::Certificate* b) { return a->host() < b->host(); });
  return sorted;
}

}  // namespace

std::string RenderCertificatesTable(const v1::ListCertificatesResponse& certs,
                                    Clock::time_point now) {
  Table table({"HOST", "SOURCE", "EXPIRES", "ACME"});
  for (const v1::Certificate* c : SortedCertificates(certs)) {
    table.AddRow({c->host().empty() ? "(default)" : c->host(), c->source(), ExpiresCell(*c, now),
                  AcmeCell(*c, now)});
  }
  return table.Render();
}

std::string RenderCertificatesNotes(const v1::ListCertificatesResponse& certs) {
  std::string notes;
  for (const v1::Certificate* c : SortedCertificates(certs)) {
    if (c->note().empty()) continue;
    notes += fmt::format("note: {}: {}\n", c->host().empty() ? "(default)" : c->host(),
                         OneLine(c->note()));
  }
  return notes;
}

namespace {

// A loop's lag: fractions of a millisecond matter here (FormatSpan says "<1ms").
std::string LagSpan(std::chrono::nanoseconds span) {
  const double ms = static_cast<double>(span.count()) / 1e6;
  if (ms < 10) return fmt::format("{:.2f}ms", ms);
  if (ms < 100) return fmt::format("{:.1f}ms", ms);
  return FormatSpan(span);
}

}  // namespace

std::string RenderStatus(const v1::StatusResponse& s, Clock::time_point now) {
  std::string out;
  auto line = [&](std::string_view key, const std::string& value) {
    out += fmt::format("{:<13}{}\n", std::string(key) + ":", value.empty() ? "-" : value);
  };
  const auto& c = s.containerd();
  std::string containerd;
  if (c.reachable()) {
    containerd = "reachable";
    if (!c.version().empty()) containerd += ", version " + c.version();
    if (!c.revision().empty()) containerd += " (" + c.revision() + ")";
  } else {
    containerd = "NOT reachable";
    if (!c.error().empty()) containerd += ": " + c.error();
  }
  if (c.has_since()) containerd += ", since " + Ago(c.since(), now);
  line("containerd", containerd);
  line("address", c.address());
  line("namespace", s.namespace_());
  line("snapshotter", s.snapshotter());
  line("runtime", s.runtime());
  line("data dir", s.data_dir());
  line("agent", s.has_agent_uptime() ? "up " + FormatSpan(ToNanos(s.agent_uptime())) : "");
  if (s.has_loop_lag()) {
    const auto& lag = s.loop_lag();
    line("loop lag",
         fmt::format("p50 {}, p99 {}, max {} ({}, every {})", LagSpan(ToNanos(lag.p50())),
                     LagSpan(ToNanos(lag.p99())), LagSpan(ToNanos(lag.max())),
                     Plural(lag.samples(), "sample"), FormatSpan(ToNanos(lag.interval()))));
  }
  const auto& n = s.counts();
  line("deployments", fmt::format("{} ({})", n.deployments(), Plural(n.services(), "service")));
  line("replicas", fmt::format("{} of {} running, {} failing", n.replicas_running(),
                               n.replicas_desired(), n.replicas_failing()));
  line("images", std::to_string(n.images()));
  if (s.deployments_size() > 0) {
    Table table({"DEPLOYMENT", "GENERATION", "PHASE", "MESSAGE"});
    for (const auto& d : s.deployments()) {
      table.AddRow({d.name(), std::to_string(d.generation()), PhaseName(d.phase()), d.message()});
    }
    out += "\n" + table.Render();
  }
  return out;
}

std::string RenderInspect(const v1::InspectResponse& inspect, Clock::time_point now) {
  std::string out;
  for (const auto& detail : inspect.replicas()) {
    if (!out.empty()) out += '\n';
    const auto& r = detail.replica();
    const auto& c = detail.config();
    auto line = [&](std::string_view key, const std::string& value) {
      out += fmt::format("  {:<12}{}\n", std::string(key) + ":", value.empty() ? "-" : value);
    };
    auto more = [&](const std::string& value) { out += fmt::format("  {:<12}{}\n", "", value); };
    out += fmt::format("{} ({}/{}, replica {}, generation {})\n", r.container_id(),
                       detail.deployment(), detail.service(), r.index(), r.generation());
    std::string state = ReplicaStateName(r.state());
    if (r.health() != v1::Replica::HEALTH_NONE) state += ", " + HealthName(r.health());
    if (r.pid() != 0) state += fmt::format(", pid {}", r.pid());
    if (r.has_uptime()) state += ", up " + FormatSpan(ToNanos(r.uptime()));
    state += ", " + Plural(r.restart_count(), "restart");
    line("state", state);
    if (!r.message().empty()) line("message", r.message());
    if (!r.address().empty()) line("address", r.address());
    if (r.has_last_exit()) {
      std::string exit = FormatExit(r.last_exit());
      if (r.last_exit().has_exited_at()) exit += ", " + Ago(r.last_exit().exited_at(), now);
      line("last exit", exit);
    }
    std::string image = c.image().empty() ? r.image() : c.image();
    std::string digest = c.image_digest().empty() ? r.image_digest() : c.image_digest();
    line("image", digest.empty() ? image : image + "@" + digest);
    std::string args;
    for (const auto& a : c.args()) {
      if (!args.empty()) args += ' ';
      bool quote = a.empty() || a.find_first_of(" \t\"'") != std::string::npos;
      args += quote ? fmt::format("\"{}\"", a) : a;
    }
    line("args", args);
    line("workdir", c.working_dir());
    line("user", c.user());
    line("hostname", c.hostname());
    for (int i = 0; i < c.env_size(); ++i) {
      if (i == 0) {
        line("env", c.env(i));
      } else {
        more(c.env(i));
      }
    }
    for (int i = 0; i < c.mounts_size(); ++i) {
      const auto& m = c.mounts(i);
      std::string text =
          fmt::format("{}{} -> {}{}", m.type(), m.source().empty() ? "" : " " + m.source(),
                      m.target(), m.read_only() ? " (ro)" : "");
      if (i == 0) {
        line("mounts", text);
      } else {
        more(text);
      }
    }
    std::vector<std::string> limits;
    if (c.cpu() > 0) limits.push_back(fmt::format("cpu {:g}", c.cpu()));
    if (c.memory_bytes() > 0) limits.push_back("memory " + FormatBytes(c.memory_bytes()));
    if (c.pids_limit() > 0) limits.push_back(fmt::format("pids {}", c.pids_limit()));
    line("limits", limits.empty() ? "none" : fmt::format("{}", fmt::join(limits, ", ")));
    std::string stop = c.stop_signal();
    if (c.has_stop_grace_period()) {
      stop += (stop.empty() ? "" : ", ") + std::string("then SIGKILL after ") +
              FormatSpan(ToNanos(c.stop_grace_period()));
    }
    line("stop", stop);
    line("runtime", fmt::format("{} / {}", c.runtime().empty() ? "-" : c.runtime(),
                                c.snapshotter().empty() ? "-" : c.snapshotter()));
    line("log", c.log_path());
    std::map<std::string, std::string> labels(c.labels().begin(), c.labels().end());
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (first) {
        line("labels", k + "=" + v);
        first = false;
      } else {
        more(k + "=" + v);
      }
    }
    if (detail.health_history_size() > 0) {
      out += "  health checks (oldest first):\n";
      for (const auto& h : detail.health_history()) {
        std::string output = h.output();
        std::replace(output.begin(), output.end(), '\n', ' ');
        while (!output.empty() && output.back() == ' ') output.pop_back();
        if (output.size() > 80) output = output.substr(0, 77) + "...";
        if (h.truncated() && output.find("...") == std::string::npos) output += "...";
        out += fmt::format("    {:<12} {:<4} {:>6}  code {}{}\n",
                           h.has_started_at() ? Ago(h.started_at(), now) : "-",
                           h.ok() ? "ok" : "FAIL", FormatSpan(ToNanos(h.duration())), h.code(),
                           output.empty() ? "" : "  " + output);
      }
    }
    if (detail.restart_history_size() > 0) {
      out += "  restarts (oldest first):\n";
      for (const auto& rr : detail.restart_history()) {
        out += fmt::format("    {:<12} {:<9} exit {}, back-off {}\n",
                           rr.has_restarted_at() ? Ago(rr.restarted_at(), now) : "not started",
                           rr.cause(), rr.has_exit() ? FormatExit(rr.exit()) : "-",
                           FormatSpan(ToNanos(rr.backoff())));
      }
    }
  }
  if (out.empty()) out = "no replicas\n";
  return out;
}

std::string RenderDeployAccepted(const v1::DeployAccepted& a) {
  std::string out;
  if (a.dry_run()) {
    out = a.changed() ? fmt::format("deployment {}: valid, would be generation {} (dry run)\n",
                                    a.deployment(), a.generation())
                      : fmt::format("deployment {}: valid, same as generation {} (dry run)\n",
                                    a.deployment(), a.generation());
  } else {
    out = a.changed() ? fmt::format("deployment {}: generation {} accepted\n", a.deployment(),
                                    a.generation())
                      : fmt::format("deployment {}: unchanged, still generation {}\n",
                                    a.deployment(), a.generation());
  }
  for (const auto& c : a.changes()) {
    std::string what;
    switch (c.kind()) {
      case v1::ServiceChange::KIND_ADD:
        what = "add, " + Replicas(c.replicas_after());
        break;
      case v1::ServiceChange::KIND_UPDATE:
        what = "update, " + StrategyName(c.strategy());
        if (!c.strategy_reason().empty()) what += " (" + c.strategy_reason() + ")";
        what += c.replicas_before() == c.replicas_after()
                    ? ", " + Replicas(c.replicas_after())
                    : fmt::format(", {} -> {} replicas", c.replicas_before(), c.replicas_after());
        break;
      case v1::ServiceChange::KIND_SCALE:
        what = fmt::format("scale {} -> {} replicas", c.replicas_before(), c.replicas_after());
        break;
      case v1::ServiceChange::KIND_UNCHANGED:
        what = "unchanged";
        break;
      case v1::ServiceChange::KIND_REMOVE:
        what = "remove, " + Replicas(c.replicas_before());
        break;
      default:
        what = "-";
        break;
    }
    out += fmt::format("  {}: {}\n", c.service(), what);
  }
  return out;
}

std::string RenderDeployProgress(const v1::DeployResponse& response) {
  if (response.has_service()) {
    const auto& s = response.service();
    std::string text = fmt::format("{}: {}", s.service(), s.message());
    if (s.has_rollout()) {
      text += fmt::format(" (rollout {}/{}, {})", s.rollout().updated(), s.rollout().total(),
                          StrategyName(s.rollout().strategy()));
    }
    return text + "\n";
  }
  if (response.has_replica()) {
    const auto& p = response.replica();
    const auto& r = p.replica();
    std::string text =
        fmt::format("{}: {} {}", p.service(), r.container_id(), ReplicaStateName(r.state()));
    if (r.health() != v1::Replica::HEALTH_NONE) text += ", " + HealthName(r.health());
    if (!r.message().empty()) text += ": " + r.message();
    return text + "\n";
  }
  return "";
}

std::string DescribeFinished(const v1::DeployFinished& f) {
  std::string span = FormatSpan(ToNanos(f.elapsed()));
  std::string why = f.message().empty() ? "" : ": " + f.message();
  switch (f.outcome()) {
    case v1::DeployFinished::OUTCOME_CONVERGED:
      return "converged in " + span;
    case v1::DeployFinished::OUTCOME_FAILED:
      return "failed after " + span + why;
    case v1::DeployFinished::OUTCOME_SUPERSEDED:
      return "superseded by another deploy after " + span + why;
    case v1::DeployFinished::OUTCOME_DELETED:
      return "deleted after " + span + why;
    default:
      return "finished with an unknown outcome after " + span + why;
  }
}

std::vector<spec::Problem> ToProblems(
    const google::protobuf::RepeatedPtrField<v1::SpecProblem>& problems) {
  std::vector<spec::Problem> out;
  for (const auto& p : problems) {
    out.push_back({p.source_name(), static_cast<int>(p.line()), static_cast<int>(p.column()),
                   p.path(), p.message()});
  }
  return out;
}

std::string RenderProblems(const std::vector<spec::Problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += spec::FormatProblem(p) + "\n";
  return out;
}

}  // namespace zlayer::cli
