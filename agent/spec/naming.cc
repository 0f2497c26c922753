#include "agent/spec/naming.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace zlayer::spec {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWordChar(char c) { return IsAlnum(c) || c == '_'; }

// A path component: [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*. Written out by hand because
// that pattern backtracks exponentially in std::regex.
bool IsPathComponent(std::string_view s) {
  size_t i = 0;
  while (true) {
    size_t start = i;
    while (i < s.size() && IsLowerAlnum(s[i])) ++i;
    if (i == start) return false;  // a separator must be followed by an alphanumeric run
    if (i == s.size()) return true;
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      i += (i + 1 < s.size() && s[i + 1] == '_') ? 2 : 1;
    } else if (s[i] == '-') {
      while (i < s.size() && s[i] == '-') ++i;
    } else {
      return false;
    }
  }
}

// DNS labels joined by dots: 1 to 63 letters, digits or '-' each, no '-' at either end.
bool AreHostLabels(std::string_view s) {
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) dot = s.size();
    std::string_view label = s.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), [](char c) { return IsAlnum(c) || c == '-'; })) {
      return false;
    }
    start = dot + 1;
  }
  return true;
}

// A host name (labels separated by dots) or a bracketed IPv6 address, with an optional port.
bool IsDomain(std::string_view s) {
  std::string_view host = s;
  std::optional<std::string_view> port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return false;
    host = s.substr(0, close + 1);
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
  } else if (size_t colon = s.find(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (port && (port->empty() || !std::all_of(port->begin(), port->end(), IsDigit))) return false;
  if (host.empty()) return false;
  if (host.front() == '[') {
    std::string_view inner = host.substr(1, host.size() - 2);
    return !inner.empty() &&
           std::all_of(inner.begin(), inner.end(), [](char c) { return IsHex(c) || c == ':'; });
  }
  return AreHostLabels(host);
}

bool IsTag(std::string_view s) {
  if (s.empty() || s.size() > 128 || !IsWordChar(s.front())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsWordChar(c) || c == '.' || c == '-'; });
}

// algorithm:hex, e.g. sha256:<64 hex>.
bool IsDigest(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view algorithm = s.substr(0, colon);
  std::string_view hex = s.substr(colon + 1);
  if (!std::all_of(
          algorithm.begin(), algorithm.end(),
          [](char c) { return IsAlnum(c) || c == '+' || c == '.' || c == '_' || c == '-'; }) ||
      !IsAlnum(algorithm.front())) {
    return false;
  }
  if (hex.size() < 32 || !std::all_of(hex.begin(), hex.end(), IsHex)) return false;
  return algorithm != "sha256" || hex.size() == 64;
}

}  // namespace

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 63 || !IsLowerAlnum(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

bool IsValidHostname(std::string_view hostname) {
  return hostname.size() <= 64 && AreHostLabels(hostname);
}

std::string ContainerId(std::string_view deployment, std::string_view service,
                        uint32_t replica_index) {
  return fmt::format("{}-{}-{}", deployment, service, replica_index);
}

Status ValidateContainerId(std::string_view id) {
  if (id.size() > kMaxContainerIdLength) {
    return InvalidArgumentError(
        fmt::format("container id \"{}\" has {} characters; containerd allows at most {}", id,
                    id.size(), kMaxContainerIdLength));
  }
  // Alternating runs: alphanumerics, then one separator, then alphanumerics again.
  bool after_separator = true;
  for (char c : id) {
    bool separator = c == '.' || c == '_' || c == '-';
    if (!IsAlnum(c) && !(separator && !after_separator)) {
      after_separator = true;
      break;
    }
    after_separator = separator;
  }
  if (after_separator) {
    return InvalidArgumentError(fmt::format(
        "container id \"{}\" is not valid for containerd, which allows letters and digits "
        "separated by single '.', '_' or '-' (not at the start or end)",
        id));
  }
  return Status::Ok();
}

bool IsValidImageReference(std::string_view reference) {
  if (reference.empty() || reference.size() > 512) return false;
  std::string_view name = reference;
  if (size_t at = reference.find('@'); at != std::string_view::npos) {
    if (!IsDigest(reference.substr(at + 1))) return false;
    name = reference.substr(0, at);
  }
  size_t last_slash = name.rfind('/');
  size_t tag_colon = name.find(':', last_slash == std::string_view::npos ? 0 : last_slash + 1);
  if (tag_colon != std::string_view::npos) {
    if (!IsTag(name.substr(tag_colon + 1))) return false;
    name = name.substr(0, tag_colon);
  }
  // Docker's rule: the first of several components is a registry host when it looks like one.
  size_t first_slash = name.find('/');
  if (first_slash != std::string_view::npos) {
    std::string_view first = name.substr(0, first_slash);
    bool is_host =
        first == "localhost" || first.find_first_of(".:[") != std::string_view::npos ||
        std::any_of(first.begin(), first.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (is_host) {
      if (!IsDomain(first)) return false;
      name = name.substr(first_slash + 1);
    }
  }
  if (name.empty() || name.size() > 255) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    if (!IsPathComponent(name.substr(start, slash - start))) return false;
    start = slash + 1;
  }
  return true;
}

}  // namespace zlayer::spec
