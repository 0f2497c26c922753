// How the agent's answers are shown: pure functions from zlayer.v1 messages to text.
// Relative times ("next restart in 1.6s", "12s ago") take `now` so tests are exact.
#pragma once

#include <google/protobuf/message.h>

#include <chrono>
#include <string>
#include <vector>

#include "agent/spec/problem.h"
#include "common/status.h"
#include "zlayer/v1/agent.pb.h"

namespace zlayer::cli {

using Clock = std::chrono::system_clock;

// The message as JSON for scripts and people, indented, ending in '\n':
//   - proto field names (`container_id`), in proto order; zero values included;
//   - enums as the table's lower-case words (`running`, `healthy`, `converged`,
//     `rollout stopped`; others without their prefix: TYPE_JOB -> `job`); null where the
//     table shows "-" (no health check, unspecified);
//   - 64-bit integers as numbers; durations as seconds (a number, 1.5); times as RFC 3339
//     strings (`2026-11-28T18:00:00.123456789Z`); unset messages and times as null;
//   - maps as objects sorted by key; of a oneof only the member that is set.
// Errors: none today (the Result leaves room for one).
Result<std::string> ToJson(const google::protobuf::Message& message);

// "running", "backoff", ... ("-" when unspecified).
std::string ReplicaStateName(v1::Replica::State state);
// "-" (no check), "starting", "healthy", "unhealthy".
std::string HealthName(v1::Replica::Health health);
// "converged", "progressing", "degraded", "rollout stopped", "deleting".
std::string PhaseName(v1::Deployment::Phase phase);
// "rolling", "stop-first".
std::string StrategyName(v1::UpdateStrategy strategy);
// "1 (Error)", "137/SIGKILL (OOMKilled)", "0 (Completed)".
std::string FormatExit(const v1::ExitStatus& exit);

// `zlayer ps`: CONTAINER SERVICE STATE HEALTH PID RESTARTS EXIT UPTIME IMAGE, one row
// per replica in the response's order. UPTIME is "next restart in D" in back-off.
std::string RenderReplicaTable(const v1::ListResponse& list, Clock::time_point now);

// Lines under the ps table for what the table cannot say: each deployment that is not
// converged (phase and message, rollouts in progress or stopped) and each replica
// whose state has an explanation (pending, failed, exited, unknown, back-off).
// Empty when everything is converged and running.
std::string RenderListNotes(const v1::ListResponse& list);

// `zlayer health DEPLOYMENT`: healthy when the deployment is converged and none of its
// replicas is failing (back-off, failed, unhealthy, unknown). `text` is one line either
// way: "deployment hello: converged, 2 replicas running", or "deployment hello: degraded:
// replica hello-web-0 backoff, 4 restarts, last exit 1 (Error): back-off 1.6s after exit 1"
// (the first replica that is not fine, else the phase and its message).
struct DeploymentHealth {
  bool healthy = false;
  std::string text;
};
DeploymentHealth JudgeDeploymentHealth(const v1::Deployment& deployment);

// `zlayer images`: NAME DIGEST SIZE UNPACKED.
std::string RenderImageTable(const v1::ListImagesResponse& images);
// `zlayer routes`: a row per route of each public listener; REPLICAS lists the
// replicas in rotation, then the others with their state in brackets; CERT is the
// source of an https route's certificate ("-" for other kinds).
std::string RenderRoutesTable(const v1::ListRoutesResponse& routes);
// Lines under the routes table: "note: <host, * without one>: <certificate_note>" for
// each https route with a note, once per host and note. Empty when none has one.
std::string RenderRoutesNotes(const v1::ListRoutesResponse& routes);

// `zlayer certs`: HOST SOURCE EXPIRES ACME, the default first, then by host. HOST is
// "(default)" for the node's default; EXPIRES "2027-03-08 (in 89d)" (UTC) or
// "... (expired 3d ago)"; ACME one of "obtaining", "next try in 3m: <last error>",
// "failed: <last error>" (no retry planned), "renews in 59d", "first try in 5s",
// "refused: <reason>", or "-" when ACME has nothing to do with the host. Line breaks in
// errors become spaces (a cell is one line).
std::string RenderCertificatesTable(const v1::ListCertificatesResponse& certs,
                                    Clock::time_point now);
// Lines under the certs table: "note: <host or (default)>: <note>" for each certificate
// with a note (why it is self-signed, say), in the table's order. Empty when none has one.
std::string RenderCertificatesNotes(const v1::ListCertificatesResponse& certs);

// `zlayer status`: node facts as "key: value" lines, then a deployment table.
std::string RenderStatus(const v1::StatusResponse& status, Clock::time_point now);

// `zlayer inspect`: one block per replica.
std::string RenderInspect(const v1::InspectResponse& inspect, Clock::time_point now);

// The first message of a Deploy: "deployment hello: generation 3 stored" and one line
// per service change ("  web: update, rolling (2 replicas)").
std::string RenderDeployAccepted(const v1::DeployAccepted& accepted);

// A progress event of `deploy --wait` (service or replica) as one line, ending in '\n';
// empty for other events.
std::string RenderDeployProgress(const v1::DeployResponse& response);

// "converged in 4.2s", "failed after 12s: <message>", "superseded: ...", "deleted: ...".
std::string DescribeFinished(const v1::DeployFinished& finished);

// The agent's problems in the local validator's form, so both read the same.
std::vector<spec::Problem> ToProblems(
    const google::protobuf::RepeatedPtrField<v1::SpecProblem>& problems);

// Each problem formatted by spec::FormatProblem, one per line.
std::string RenderProblems(const std::vector<spec::Problem>& problems);

// Conversions at the protobuf edge.
std::chrono::nanoseconds ToNanos(const google::protobuf::Duration& d);
Clock::time_point ToTimePoint(const google::protobuf::Timestamp& t);
google::protobuf::Timestamp ToTimestamp(Clock::time_point t);

}  // namespace zlayer::cli
