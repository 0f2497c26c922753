// What CNI plugins print: the success result of ADD (spec 1.0.0 section 5,
// "Success") and the error object every command may print on failure
// ("Error"). Pure parsing, no I/O.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace zlayer::agent::network::cni {

struct Interface {
  std::string name;
  std::string mac;
  std::string sandbox;  // the netns path for interfaces inside the container; empty on the host
};

struct IpConfig {
  std::string address;           // CIDR, e.g. "10.200.3.2/24"
  std::string gateway;           // empty when none
  std::optional<int> interface;  // index into Result::interfaces
};

struct Route {
  std::string dst;  // CIDR
  std::string gw;   // empty: the default gateway of the interface
};

struct CniResult {
  std::string cni_version;
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<Route> routes;
  // The document as printed: passed back as prevResult on CHECK and DEL, so
  // the caller should persist it beside the container.
  nlohmann::json raw;

  // The address (without the prefix length) of the first IP on an interface
  // named `ifname` inside the sandbox; empty when there is none.
  std::string AddressOf(std::string_view ifname) const;
};

// Parses an ADD result. kInvalidArgument naming the field when `text` is not
// JSON or a field has the wrong type; unknown fields are ignored.
Result<CniResult> ParseResult(std::string_view text);

// The spec's error object: {"cniVersion", "code", "msg", "details"}.
struct CniError {
  int code = 0;
  std::string msg;
  std::string details;
};

// The error object in a failed plugin's stdout, or nullopt when stdout holds
// none (not JSON, or no "code"/"msg").
std::optional<CniError> ParseError(std::string_view text);

// The Status for a failed plugin call: "cni <plugin> <command> for <container>:
// <msg>[; <details>] (code N)". Codes map to status codes: 11 (try again
// later) kUnavailable, 3 (unknown container) kNotFound, 1, 2, 4, 6, 7 (bad
// version, field, environment, input, configuration) kInvalidArgument, 5
// (I/O) and plugin-specific codes kInternal.
Status ErrorStatus(std::string_view plugin, std::string_view command, std::string_view container,
                   const CniError& error);

}  // namespace zlayer::agent::network::cni
