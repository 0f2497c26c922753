#include "agent/registry/auth.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/registry/http.h"

namespace zlayer::registry {

std::vector<Challenge> ParseChallenges(std::string_view h) {
  std::vector<Challenge> out;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  auto token = [&] {
    size_t start = i;
    while (i < h.size() && h[i] != ' ' && h[i] != '\t' && h[i] != ',' && h[i] != '=') ++i;
    return std::string(h.substr(start, i - start));
  };
  while (i < h.size()) {
    skip_space();
    while (i < h.size() && h[i] == ',') {
      ++i;
      skip_space();
    }
    if (i >= h.size()) break;
    Challenge challenge;
    challenge.scheme = Lower(token());
    if (challenge.scheme.empty()) break;
    // Parameters: name=value or name="quoted", comma separated, until the next scheme
    // (a token not followed by '=').
    while (true) {
      skip_space();
      size_t save = i;
      std::string name = Lower(token());
      skip_space();
      if (name.empty() || i >= h.size() || h[i] != '=') {
        i = save;
        break;
      }
      ++i;  // '='
      skip_space();
      std::string value;
      if (i < h.size() && h[i] == '"') {
        ++i;
        while (i < h.size() && h[i] != '"') {
          if (h[i] == '\\' && i + 1 < h.size()) ++i;
          value += h[i++];
        }
        if (i < h.size()) ++i;  // closing quote
      } else {
        value = token();
      }
      challenge.params[name] = value;
      skip_space();
      if (i < h.size() && h[i] == ',') ++i;
    }
    out.push_back(std::move(challenge));
  }
  return out;
}

std::string NormalizeAuthKey(std::string_view key) {
  std::string k(key);
  if (auto scheme = k.find("://"); scheme != std::string::npos) k = k.substr(scheme + 3);
  if (auto slash = k.find('/'); slash != std::string::npos) k = k.substr(0, slash);
  k = Lower(k);
  if (k == "index.docker.io" || k == "registry-1.docker.io" || k == "registry.hub.docker.com") {
    return "docker.io";
  }
  return k;
}

std::string Base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ') clean += c;
  }
  if (clean.size() % 4 != 0) return InvalidArgumentError("not base64");
  std::string out(clean.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return InvalidArgumentError("not base64");
  size_t size = static_cast<size_t>(n);
  // EVP_DecodeBlock counts padding as zero bytes.
  if (!clean.empty() && clean.back() == '=') --size;
  if (clean.size() >= 2 && clean[clean.size() - 2] == '=') --size;
  out.resize(size);
  return out;
}

Result<Credentials> Credentials::Parse(std::string_view json, const std::string& where) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgumentError(where + ": not a JSON object");
  }
  Credentials creds;
  if (!j.contains("auths")) return creds;
  if (!j["auths"].is_object()) return InvalidArgumentError(where + ": auths: expected an object");
  for (const auto& [key, entry] : j["auths"].items()) {
    if (!entry.is_object()) continue;
    UserPassword up;
    if (entry.contains("auth") && entry["auth"].is_string() &&
        !entry["auth"].get<std::string>().empty()) {
      auto decoded = Base64Decode(entry["auth"].get<std::string>());
      auto colon = decoded.ok() ? decoded->find(':') : std::string::npos;
      if (colon == std::string::npos) {
        return InvalidArgumentError(
            fmt::format("{}: auths.{}.auth: expected base64 of \"user:password\"", where, key));
      }
      up.username = decoded->substr(0, colon);
      up.password = decoded->substr(colon + 1);
    } else if (entry.contains("username") && entry["username"].is_string()) {
      up.username = entry["username"];
      if (entry.contains("password") && entry["password"].is_string()) {
        up.password = entry["password"];
      }
    } else {
      continue;  // credential helpers and identity tokens are not supported
    }
    creds.by_host_.emplace(NormalizeAuthKey(key), std::move(up));
  }
  return creds;
}

Result<Credentials> Credentials::Load(const std::vector<std::string>& paths) {
  Credentials all;
  for (const std::string& path : paths) {
    if (path.empty() || ::access(path.c_str(), F_OK) != 0) continue;
    std::ifstream in(path);
    if (!in) return ErrnoError("read " + path);
    std::stringstream text;
    text << in.rdbuf();
    auto creds = Parse(text.str(), path);
    if (!creds.ok()) return creds.status();
    for (auto& [host, up] : creds->by_host_) all.by_host_.emplace(host, up);
  }
  return all;
}

std::optional<UserPassword> Credentials::Lookup(const std::string& registry) const {
  auto it = by_host_.find(NormalizeAuthKey(registry));
  if (it == by_host_.end()) return std::nullopt;
  return it->second;
}

void Credentials::Add(const std::string& registry, UserPassword credentials) {
  by_host_[NormalizeAuthKey(registry)] = std::move(credentials);
}

Result<BearerToken> ParseTokenResponse(std::string_view json) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgumentError("token response is not a JSON object");
  }
  BearerToken token;
  for (const char* key : {"token", "access_token"}) {
    if (j.contains(key) && j[key].is_string() && !j[key].get<std::string>().empty()) {
      token.token = j[key];
      break;
    }
  }
  if (token.token.empty()) return InvalidArgumentError("token response has no token");
  if (j.contains("expires_in") && j["expires_in"].is_number_integer() &&
      j["expires_in"].get<int64_t>() > 0) {
    token.expires_in = std::chrono::seconds(j["expires_in"].get<int64_t>());
  }
  return token;
}

}  // namespace zlayer::registry
