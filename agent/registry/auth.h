// Registry authentication pieces as plain values: WWW-Authenticate challenges, Docker
// config.json credentials, and bearer tokens with their expiry
// (containerd-client-notes.md §5 step 3; the token spec of the distribution project).
//
// Thread safety: plain values and pure functions; Credentials is immutable once loaded.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace zlayer::registry {

// One challenge of a WWW-Authenticate header: `Bearer realm="…",service="…",scope="…"`
// or `Basic realm="…"`. The scheme is lower-cased; parameter names too.
struct Challenge {
  std::string scheme;  // "bearer", "basic"
  std::map<std::string, std::string> params;
};

// Parses a WWW-Authenticate value (quoted strings with backslash escapes, several
// challenges separated by commas). Unparsable text gives no challenges.
std::vector<Challenge> ParseChallenges(std::string_view header);

struct UserPassword {
  std::string username;
  std::string password;
};

// Credentials by registry host, from Docker config.json files (`auths`.<host>.`auth` =
// base64("user:password"), or `username` / `password`). Keys are matched as Docker does:
// "host[:port]", with or without a scheme and path ("https://index.docker.io/v1/" is
// docker.io's key).
class Credentials {
 public:
  // Reads each existing file of `paths` in order; the first file naming a host wins.
  // Missing files are skipped. kInvalidArgument naming the file for malformed JSON or a
  // bad `auth` value.
  static Result<Credentials> Load(const std::vector<std::string>& paths);
  // From config.json text (for tests); `where` names it in errors.
  static Result<Credentials> Parse(std::string_view json, const std::string& where);

  // The credentials for `registry` (as in a reference: "docker.io", "host:5000").
  std::optional<UserPassword> Lookup(const std::string& registry) const;

  void Add(const std::string& registry, UserPassword credentials);

 private:
  std::map<std::string, UserPassword> by_host_;
};

// The host part of a config.json `auths` key: "https://index.docker.io/v1/" → "docker.io",
// "http://host:5000/x" → "host:5000", "registry-1.docker.io" → "docker.io".
std::string NormalizeAuthKey(std::string_view key);

std::string Base64Encode(std::string_view data);
// kInvalidArgument for text that is not base64.
Result<std::string> Base64Decode(std::string_view text);

// A token endpoint's JSON answer: `token` or `access_token`, `expires_in` (seconds,
// default 60), issued_at ignored.
struct BearerToken {
  std::string token;
  std::chrono::seconds expires_in{60};
};
Result<BearerToken> ParseTokenResponse(std::string_view json);

}  // namespace zlayer::registry
