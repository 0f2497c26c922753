// Reading a `version: v1` deployment spec (../shared/reference/spec-v1.md) into the model
// (model.h), with every problem of the spec reported at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/spec/model.h"
#include "agent/spec/problem.h"
#include "common/config.h"

namespace zlayer::spec {

struct ParseResult {
  // Set exactly when `problems` is empty: complete, validated, defaults filled.
  std::optional<Deployment> deployment;
  // Every problem found, in document order (line, then column); each names the file, its
  // 1-based line and column and the field path. Unknown keys, keys of the ZLayer schema this
  // node does not implement ("recognised, not supported on this node yet"), wrong types,
  // bad values, references to unknown services and dependency cycles are all problems.
  std::vector<Problem> problems;

  bool ok() const { return problems.empty(); }
};

// Parses and validates `yaml_text`. `file_name` only labels problems. `env` is the
// environment that `$E:NAME` values in `env:` are taken from (the node's, on the agent);
// an unset NAME is a problem. Never throws: malformed YAML is one problem at the YAML
// error's position. Texts over kMaxSpecBytes are refused without being parsed.
ParseResult ParseSpec(std::string_view yaml_text, std::string_view file_name,
                      const Environment& env);

// A port a replica listens on in the node's network namespace.
struct ListenPort {
  uint16_t number = 0;
  bool udp = false;  // tcp otherwise (http, https and websocket are tcp)
  bool operator==(const ListenPort&) const = default;
};
// "8080/tcp".
std::string Name(const ListenPort& port);

// The ports `service`'s replicas listen on in the node's network: each endpoint's
// target_port, and a tcp health check's port. Empty unless the service runs on the
// node's network (network_mode `host`): `default` and `none` give each replica a
// network namespace of its own.
std::vector<ListenPort> NodePorts(const Service& service);

// Why `service` cannot run `replicas` replicas on this node, or nullopt when it can.
// Replicas on the node's network share its ports: with a port (NodePorts not empty) all but
// one replica would fail with "address in use", so such a service runs at most one. The
// parser reports this at `scale.replicas`; `zlayer scale` asks it before changing a count.
// Two services of one deployment listening on the same port are refused by the parser too.
std::optional<std::string> ReplicasProblem(const Service& service, uint32_t replicas);

// A port a service of some deployment holds on the node's network (NodePorts).
struct PortClaim {
  std::string deployment;
  std::string service;
  ListenPort port;
};

// The node's ports are shared by every deployment: `incoming` may not listen on a port that a
// service of another deployment in `claims` holds (claims of `incoming.name` itself are
// ignored: a redeploy replaces them). Returns one line per conflict ("service web listens on
// 8080/tcp, which service api of deployment shop holds on the node's network"), empty when
// there is none. Pure.
std::vector<std::string> NodePortConflicts(const Deployment& incoming,
                                           const std::vector<PortClaim>& claims);

// Reads `path` and parses it as ParseSpec does, naming problems after `path`. A file that
// cannot be read gives one problem without a position ("cannot read: No such file ...").
ParseResult ParseSpecFile(const std::string& path, const Environment& env);

// What a spec may hold. A spec is refused (with the position and path of the value at
// fault) beyond any of these; they keep one small spec from taking the node's memory.
//
// The text itself: 1 MiB.
inline constexpr size_t kMaxSpecBytes = 1 << 20;
// One scalar (key or value): 128 KiB, the kernel's MAX_ARG_STRLEN, which no argument or
// environment entry of a container can exceed anyway.
inline constexpr size_t kMaxValueBytes = 128 << 10;
// One list: 10000 items.
inline constexpr size_t kMaxListItems = 10'000;
// The whole document with every YAML alias expanded (each `*a` counted as a copy of what
// `&a` names): 4 MiB of scalar text, 200000 values. Measured without expanding anything.
inline constexpr size_t kMaxExpandedBytes = 4 << 20;
inline constexpr size_t kMaxExpandedValues = 200'000;
// What one exec of a service may carry (its entrypoint + args + env; a health check
// command on its own): each string, with its NUL ("NAME=value" for env), at most the
// kernel's MAX_ARG_STRLEN (128 KiB); all strings with their NULs and pointers at most
// 1 MiB, half of the usual ARG_MAX (a quarter of an 8 MiB stack), which leaves room for
// the image's own ENV that the node adds.
inline constexpr size_t kMaxExecStringBytes = 128 << 10;
inline constexpr size_t kMaxExecBytes = 1 << 20;

}  // namespace zlayer::spec
