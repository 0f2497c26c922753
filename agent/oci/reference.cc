#include "agent/oci/reference.h"

#include <fmt/format.h>

#include <regex>

namespace zlayer::oci {
namespace {

constexpr size_t kMaxNameLength = 255;

// distribution/reference's grammar.
const std::regex& DomainRegex() {
  static const std::regex re(
      "(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
      "(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
      "|\\[[a-fA-F0-9:]+\\])"
      "(?::[0-9]+)?");
  return re;
}

const std::regex& PathComponentRegex() {
  static const std::regex re("[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*");
  return re;
}

const std::regex& TagRegex() {
  static const std::regex re("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  return re;
}

const std::regex& DigestRegex() {
  static const std::regex re(
      "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}");
  return re;
}

bool IsLower(std::string_view s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}

}  // namespace

std::string Reference::Name() const { return registry + "/" + repository; }

std::string Reference::FullName() const {
  std::string out = Name();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string Reference::RegistryHost() const {
  return registry == "docker.io" ? "registry-1.docker.io" : registry;
}

Result<Reference> ParseReference(std::string_view text) {
  auto fail = [&](std::string_view problem) {
    return InvalidArgumentError(fmt::format("invalid image reference \"{}\": {}", text, problem));
  };
  if (text.empty()) return InvalidArgumentError("invalid image reference: empty");
  static const std::regex kImageId("[a-f0-9]{64}");
  if (std::regex_match(text.begin(), text.end(), kImageId)) {
    return fail("a 64-character hexadecimal image id is not a reference");
  }

  Reference ref;
  std::string_view rest = text;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    std::string digest(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!std::regex_match(digest, DigestRegex())) return fail("invalid digest \"" + digest + "\"");
    if (!digest.starts_with("sha256:")) {
      return fail("unsupported digest algorithm \"" + digest.substr(0, digest.find(':')) +
                  "\" (only sha256)");
    }
    static const std::regex kSha256("sha256:[a-f0-9]{64}");
    if (!std::regex_match(digest, kSha256)) {
      return fail("invalid sha256 digest (expected 64 lowercase hex digits)");
    }
    ref.digest = digest;
  }
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!std::regex_match(ref.tag, TagRegex())) return fail("invalid tag \"" + ref.tag + "\"");
  }
  if (rest.empty()) return fail("missing repository name");

  size_t slash = rest.find('/');
  std::string_view first = rest.substr(0, slash);
  if (slash == std::string_view::npos || (first.find_first_of(".:") == std::string_view::npos &&
                                          first != "localhost" && IsLower(first))) {
    ref.registry = "docker.io";
    ref.repository = std::string(rest);
  } else {
    ref.registry = std::string(first);
    ref.repository = std::string(rest.substr(slash + 1));
    if (!std::regex_match(ref.registry, DomainRegex())) {
      return fail("invalid registry \"" + ref.registry + "\"");
    }
  }
  if (ref.registry == "index.docker.io") ref.registry = "docker.io";
  if (ref.registry == "docker.io" && ref.repository.find('/') == std::string::npos) {
    ref.repository = "library/" + ref.repository;
  }

  if (!IsLower(ref.repository)) return fail("repository name must be lowercase");
  size_t begin = 0;
  while (true) {
    size_t end = ref.repository.find('/', begin);
    std::string component = ref.repository.substr(begin, end - begin);
    if (component.empty()) return fail("empty path component in the repository name");
    if (!std::regex_match(component, PathComponentRegex())) {
      return fail("invalid repository path component \"" + component + "\"");
    }
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  if (ref.Name().size() > kMaxNameLength) {
    return fail(fmt::format("name longer than {} characters", kMaxNameLength));
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

}  // namespace zlayer::oci
