// Socket resolution, error wording and local spec checks: the parts of the CLI that
// touch the outside world only through a path.
#include "cmd/zlayer/connection.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "cmd/zlayer/spec_check.h"

using namespace std::chrono_literals;
using zlayer::cli::DescribeRpcError;
using zlayer::cli::ResolveSocket;

TEST_CASE("The socket comes from --socket, else ZLAYER_SOCKET, else the default") {
  CHECK(*ResolveSocket(std::nullopt, {}, "/") == "/run/zlayer/agent.sock");
  CHECK(*ResolveSocket(std::nullopt, {{"ZLAYER_SOCKET", "/tmp/a.sock"}}, "/") == "/tmp/a.sock");
  CHECK(*ResolveSocket(std::string("/x.sock"), {{"ZLAYER_SOCKET", "/tmp/a.sock"}}, "/") ==
        "/x.sock");
  CHECK(*ResolveSocket(std::string("rel.sock"), {}, "/home/u") == "/home/u/rel.sock");
  // An unrelated bad variable must not stop the CLI.
  CHECK(ResolveSocket(std::nullopt, {{"ZLAYER_STOP_TIMEOUT", "abc"}}, "/").ok());
  auto relative = ResolveSocket(std::nullopt, {{"ZLAYER_SOCKET", "agent.sock"}}, "/");
  REQUIRE_FALSE(relative.ok());
  CHECK_THAT(relative.status().message(), Catch::Contains("must be an absolute path"));
  CHECK(zlayer::cli::ChannelTarget("/run/a.sock") == "unix:///run/a.sock");
}

TEST_CASE("A missing socket is reported as an agent that is not reachable") {
  auto status = zlayer::cli::ProbeSocket("/nonexistent/zl/agent.sock");
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() ==
        "agent not reachable at /nonexistent/zl/agent.sock (is the node running?)");
  CHECK_FALSE(zlayer::cli::ProbeSocket("/tmp/" + std::string(200, 'x')).ok());
}

TEST_CASE("gRPC errors become one clear line") {
  struct Case {
    grpc::StatusCode code;
    std::string message;
    std::string expected;
  };
  const std::string sock = "/run/zlayer/agent.sock";
  for (const Case& c : std::vector<Case>{
           {grpc::StatusCode::UNAVAILABLE,
            "failed to connect to all addresses; last error: UNKNOWN: unix:/x: Connection refused",
            "agent not reachable at /run/zlayer/agent.sock (is the node running?)"},
           {grpc::StatusCode::UNAVAILABLE, "containerd at /run/containerd.sock: unreachable",
            "ps: containerd at /run/containerd.sock: unreachable"},
           {grpc::StatusCode::UNIMPLEMENTED, "", "the agent does not support ps yet"},
           {grpc::StatusCode::NOT_FOUND, "deployment hello not found",
            "ps: deployment hello not found"},
           {grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded",
            "ps: no answer from the agent within 30s (work it accepted carries on; use "
            "--timeout to wait longer)"},
           {grpc::StatusCode::PERMISSION_DENIED, "",
            "ps: permission denied: run as root or as a member of the group of "
            "/run/zlayer/agent.sock"},
           {grpc::StatusCode::INTERNAL, "list: broken",
            "ps: internal error in the agent: list: broken"},
           {grpc::StatusCode::DATA_LOSS, "", "ps: data loss"},
       }) {
    INFO(c.expected);
    CHECK(DescribeRpcError("ps", grpc::Status(c.code, c.message), sock, 30s) == c.expected);
  }
}

namespace {

// A file under a fresh /tmp directory, removed with the directory's contents at the end.
struct TempFile {
  std::string dir;
  std::string path;
  explicit TempFile(const std::string& text) {
    char tmpl[] = "/tmp/zl-XXXXXX";
    dir = ::mkdtemp(tmpl);
    path = dir + "/app.yaml";
    std::ofstream(path) << text;
  }
  ~TempFile() {
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
  }
};

}  // namespace

TEST_CASE("`$E:` names are placeholders locally: the node's environment decides") {
  auto env = zlayer::cli::PlaceholderEnvironment(
      "env:\n  A: $E:DB_PASSWORD\n  B: \"$E:TOKEN\"\n  C: plain\nflow: {D: $E:FLOW, E: x}\n");
  CHECK(env == zlayer::Environment{{"DB_PASSWORD", ""}, {"TOKEN", ""}, {"FLOW", ""}});

  TempFile file(
      "version: v1\ndeployment: hello\nservices:\n  web:\n    image:\n      name: busybox\n"
      "    env:\n      SECRET: $E:ZL_TEST_SURELY_UNSET\n");
  auto checked = zlayer::cli::CheckSpecFile(file.path);
  INFO((checked.result.problems.empty() ? "" : checked.result.problems[0].message));
  CHECK(checked.result.ok());
  CHECK_THAT(checked.text, Catch::StartsWith("version: v1\n"));
}

TEST_CASE("An invalid or unreadable spec file gives positioned problems") {
  TempFile file("version: v1\ndeployment: hello\nservices:\n  web:\n    imgae: busybox\n");
  auto checked = zlayer::cli::CheckSpecFile(file.path);
  REQUIRE(checked.result.problems.size() == 2);
  // Document order: the missing `image` at its service, then the misspelt key.
  CHECK(checked.result.problems[0].path == "services.web.image");
  CHECK(checked.result.problems[1].file == file.path);
  CHECK(checked.result.problems[1].line == 5);
  CHECK(checked.result.problems[1].column == 5);
  CHECK(checked.result.problems[1].path == "services.web.imgae");

  auto missing = zlayer::cli::CheckSpecFile("/nonexistent/app.yaml");
  REQUIRE(missing.result.problems.size() == 1);
  CHECK(missing.result.problems[0].message == "cannot read: No such file or directory");
}
