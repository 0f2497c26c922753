#include "agent/network/cni/cni_result.h"

#include <fmt/core.h>

namespace zlayer::agent::network::cni {

using nlohmann::json;

namespace {

// Reads optional string `key` of `object` into `out`; a present non-string is an error.
Status OptionalString(const json& object, const char* key, std::string_view where,
                      std::string& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) {
    return InvalidArgumentError(fmt::format("cni result: {}.{}: not a string", where, key));
  }
  out = it->get<std::string>();
  return Status::Ok();
}

Result<const json*> OptionalArray(const json& doc, const char* key) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return static_cast<const json*>(nullptr);
  if (!it->is_array())
    return InvalidArgumentError(fmt::format("cni result: {}: not an array", key));
  return &*it;
}

}  // namespace

std::string CniResult::AddressOf(std::string_view ifname) const {
  for (const IpConfig& ip : ips) {
    if (!ip.interface || *ip.interface < 0 ||
        static_cast<size_t>(*ip.interface) >= interfaces.size()) {
      continue;
    }
    const Interface& iface = interfaces[*ip.interface];
    if (iface.name != ifname || iface.sandbox.empty()) continue;
    return ip.address.substr(0, ip.address.find('/'));
  }
  return "";
}

Result<CniResult> ParseResult(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return InvalidArgumentError("cni result: not a JSON object");
  }
  CniResult result;
  result.raw = doc;
  ZLAYER_RETURN_IF_ERROR(OptionalString(doc, "cniVersion", "result", result.cni_version));

  auto interfaces = OptionalArray(doc, "interfaces");
  if (!interfaces.ok()) return interfaces.status();
  if (*interfaces) {
    for (const json& item : **interfaces) {
      if (!item.is_object()) return InvalidArgumentError("cni result: interfaces: not an object");
      Interface iface;
      ZLAYER_RETURN_IF_ERROR(OptionalString(item, "name", "interfaces[]", iface.name));
      ZLAYER_RETURN_IF_ERROR(OptionalString(item, "mac", "interfaces[]", iface.mac));
      ZLAYER_RETURN_IF_ERROR(OptionalString(item, "sandbox", "interfaces[]", iface.sandbox));
      result.interfaces.push_back(std::move(iface));
    }
  }

  auto ips = OptionalArray(doc, "ips");
  if (!ips.ok()) return ips.status();
  if (*ips) {
    for (const json& item : **ips) {
      if (!item.is_object()) return InvalidArgumentError("cni result: ips: not an object");
      IpConfig ip;
      ZLAYER_RETURN_IF_ERROR(OptionalString(item, "address", "ips[]", ip.address));
      ZLAYER_RETURN_IF_ERROR(OptionalString(item, "gateway", "ips[]", ip.gateway));
      if (ip.address.empty()) return InvalidArgumentError("cni result: ips[].address: missing");
      auto index = item.find("interface");
      if (index != item.end() && !index->is_null()) {
        if (!index->is_number_integer()) {
          return InvalidArgumentError("cni result: ips[].interface: not an integer");
        }
        ip.interface = index->get<int>();
      }
      result.ips.push_back(std::move(ip));
    }
  }

  auto routes = OptionalArray(doc, "routes");
  if (!routes.ok()) return routes.status();
  if (*routes) {
    for (const json& item : **routes) {
      if (!item.is_object()) return InvalidArgumentError("cni result: routes: not an object");
      Route route;
      ZLAYER_RETURN_IF_ERROR(OptionalString(item, "dst", "routes[]", route.dst));
      ZLAYER_RETURN_IF_ERROR(OptionalString(item, "gw", "routes[]", route.gw));
      result.routes.push_back(std::move(route));
    }
  }
  return result;
}

std::optional<CniError> ParseError(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  auto code = doc.find("code");
  auto msg = doc.find("msg");
  if (code == doc.end() || !code->is_number_integer()) return std::nullopt;
  if (msg == doc.end() || !msg->is_string()) return std::nullopt;
  CniError error;
  error.code = code->get<int>();
  error.msg = msg->get<std::string>();
  auto details = doc.find("details");
  if (details != doc.end() && details->is_string()) error.details = details->get<std::string>();
  return error;
}

Status ErrorStatus(std::string_view plugin, std::string_view command, std::string_view container,
                   const CniError& error) {
  StatusCode code = StatusCode::kInternal;
  switch (error.code) {
    case 1:
    case 2:
    case 4:
    case 6:
    case 7:
      code = StatusCode::kInvalidArgument;
      break;
    case 3:
      code = StatusCode::kNotFound;
      break;
    case 11:
      code = StatusCode::kUnavailable;
      break;
    default:
      break;
  }
  std::string text = error.msg;
  if (!error.details.empty()) text += "; " + error.details;
  return Status(code, fmt::format("cni {} {} for {}: {} (code {})", plugin, command, container,
                                  text, error.code));
}

}  // namespace zlayer::agent::network::cni
