// The keys of a public endpoint the ingress reads: host (exact or wildcard,
// compared in lower case) and redirect_http (ours, https only).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "agent/spec/parser.h"

namespace zlayer::spec {
namespace {

std::vector<std::string> Formatted(const ParseResult& result) {
  std::vector<std::string> lines;
  for (const Problem& problem : result.problems) lines.push_back(FormatProblem(problem));
  return lines;
}

ParseResult ParseEndpoint(const std::string& endpoint) {
  return ParseSpec(
      "version: v1\ndeployment: d\nservices:\n  web:\n    image: {name: x}\n    endpoints: [" +
          endpoint + "]\n",
      "web.yaml", {});
}

TEST_CASE("An endpoint's host is kept in lower case, exact or as a wildcard") {
  for (auto [given, kept] : std::vector<std::pair<std::string, std::string>>{
           {"Api.Example.COM", "api.example.com"}, {"*.Example.com", "*.example.com"}}) {
    ParseResult result = ParseEndpoint("{name: h, protocol: https, port: 443, host: \"" + given +
                                       "\", expose: public}");
    REQUIRE(Formatted(result) == std::vector<std::string>{});
    CHECK(result.deployment->services.at("web").endpoints[0].host == kept);
  }
}

TEST_CASE("A host that is neither a DNS name nor a wildcard of one is refused, naming the key") {
  for (std::string bad :
       {"api.example.com:8080", "*", "a.*.example.com", "-a.example.com", "a..b"}) {
    INFO(bad);
    ParseResult result =
        ParseEndpoint("{name: h, protocol: http, port: 80, host: \"" + bad + "\"}");
    REQUIRE(result.problems.size() == 1);
    CHECK(FormatProblem(result.problems[0])
              .find("services.web.endpoints[0].host: expected a host "
                    "name (api.example.com) or a wildcard") != std::string::npos);
  }
}

TEST_CASE("redirect_http is read for https endpoints and refused for any other protocol") {
  ParseResult https =
      ParseEndpoint("{name: h, protocol: https, port: 443, expose: public, redirect_http: true}");
  REQUIRE(Formatted(https) == std::vector<std::string>{});
  CHECK(https.deployment->services.at("web").endpoints[0].redirect_http);

  ParseResult http = ParseEndpoint("{name: h, protocol: http, port: 80, redirect_http: true}");
  REQUIRE(http.problems.size() == 1);
  CHECK(FormatProblem(http.problems[0]).find("redirect_http: only allowed with protocol: https") !=
        std::string::npos);
}

}  // namespace
}  // namespace zlayer::spec
