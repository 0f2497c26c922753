// End-to-end: the built `zlayer` binary against a fake agent, an in-process gRPC server
// with canned answers on a Unix socket under /tmp/zl-XXXXXX. Hermetic: no containerd,
// no real agent.
#include <fcntl.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "zlayer/v1/agent.grpc.pb.h"

namespace v1 = zlayer::v1;

namespace {

// Canned answers. Everything not overridden answers UNIMPLEMENTED, as an older agent would.
class FakeAgent final : public v1::Agent::Service {
 public:
  std::atomic<int> deploy_calls{0};
  std::atomic<bool> healthy{true};

  grpc::Status List(grpc::ServerContext*, const v1::ListRequest* request,
                    v1::ListResponse* response) override {
    if (request->deployment() == "missing") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "deployment missing not found");
    }
    auto* d = response->add_deployments();
    d->set_name("hello");
    d->set_generation(1);
    d->set_observed_generation(1);
    d->set_phase(v1::Deployment::PHASE_CONVERGED);
    auto* s = d->add_services();
    s->set_name("web");
    s->set_image("busybox:latest");
    s->set_desired_replicas(1);
    auto* r = s->add_replicas();
    r->set_container_id("hello-web-0");
    r->set_state(v1::Replica::STATE_RUNNING);
    r->set_pid(4242);
    r->mutable_uptime()->set_seconds(42);
    return grpc::Status::OK;
  }

  grpc::Status Deploy(grpc::ServerContext*, const v1::DeployRequest* request,
                      grpc::ServerWriter<v1::DeployResponse>* writer) override {
    ++deploy_calls;
    v1::DeployResponse response;
    if (request->spec_yaml().find("deployment: bad") != std::string::npos) {
      auto* p = response.mutable_rejected()->add_problems();
      p->set_source_name(request->source_name());
      p->set_line(6);
      p->set_column(13);
      p->set_path("services.web.image.name");
      p->set_message("image busybox:nope is not on this node and pull_policy is never");
      writer->Write(response);
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the same problem again");
    }
    auto* a = response.mutable_accepted();
    a->set_deployment("hello");
    a->set_generation(2);
    a->set_changed(true);
    a->set_dry_run(request->dry_run());
    auto* c = a->add_changes();
    c->set_service("web");
    c->set_kind(v1::ServiceChange::KIND_ADD);
    c->set_replicas_after(1);
    writer->Write(response);
    if (request->wait() && !request->dry_run()) {
      v1::DeployResponse progress;
      progress.mutable_replica()->set_service("web");
      progress.mutable_replica()->mutable_replica()->set_container_id("hello-web-0");
      progress.mutable_replica()->mutable_replica()->set_state(v1::Replica::STATE_RUNNING);
      writer->Write(progress);
      v1::DeployResponse finished;
      finished.mutable_finished()->set_outcome(v1::DeployFinished::OUTCOME_CONVERGED);
      finished.mutable_finished()->mutable_elapsed()->set_nanos(300'000'000);
      writer->Write(finished);
    }
    return grpc::Status::OK;
  }

  grpc::Status Logs(grpc::ServerContext*, const v1::LogsRequest*,
                    grpc::ServerWriter<v1::LogsResponse>* writer) override {
    v1::LogsResponse batch;
    auto add = [&](const char* container, const char* line, v1::LogStream stream) {
      auto* e = batch.add_entries();
      e->set_container_id(container);
      e->set_line(line);
      e->set_stream(stream);
    };
    add("hello-web-0", "started", v1::LOG_STREAM_STDOUT);
    add("hello-web-1", "warning", v1::LOG_STREAM_STDERR);
    writer->Write(batch);
    return grpc::Status::OK;
  }

  // Echoes stdin (when forwarded) to stdout, reports its argv on stderr, exits 3.
  grpc::Status Exec(grpc::ServerContext*,
                    grpc::ServerReaderWriter<v1::ExecResponse, v1::ExecRequest>* stream) override {
    v1::ExecRequest request;
    if (!stream->Read(&request) || !request.has_start()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "first message must be start");
    }
    v1::ExecStart start = request.start();
    if (start.target() == "stopped") {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "replica hello-stopped-0 has no running task");
    }
    v1::ExecResponse response;
    response.mutable_started()->set_container_id("hello-web-0");
    stream->Write(response);
    if (start.tty()) return Terminal(start, stream);
    while (start.stdin() && stream->Read(&request)) {
      if (request.has_close_stdin()) break;
      if (request.has_stdin()) {
        response.set_stdout(request.stdin());
        stream->Write(response);
      }
    }
    std::string argv;
    for (const auto& a : start.args()) argv += (argv.empty() ? "" : " ") + a;
    response.set_stderr("argv: " + argv + "\n");
    stream->Write(response);
    response.mutable_exit()->set_code(3);
    stream->Write(response);
    return grpc::Status::OK;
  }

  // With a terminal: reports its size and every resize, echoes input until Ctrl-D
  // (which only arrives as a byte when the client's terminal is in raw mode), exits 3.
  grpc::Status Terminal(const v1::ExecStart& start,
                        grpc::ServerReaderWriter<v1::ExecResponse, v1::ExecRequest>* stream) {
    v1::ExecResponse response;
    response.set_stdout(fmt::format("ready {}x{}\r\n", start.terminal_size().width(),
                                    start.terminal_size().height()));
    stream->Write(response);
    v1::ExecRequest request;
    while (stream->Read(&request)) {
      if (request.has_resize()) {
        response.set_stdout(
            fmt::format("resized {}x{}\r\n", request.resize().width(), request.resize().height()));
        stream->Write(response);
      }
      if (request.has_stdin()) {
        std::string data = request.stdin();
        auto eot = data.find('\x04');
        response.set_stdout("echo:" + data.substr(0, eot) + "\r\n");
        stream->Write(response);
        if (eot != std::string::npos) break;
      }
    }
    response.mutable_exit()->set_code(3);
    stream->Write(response);
    return grpc::Status::OK;
  }

  grpc::Status PullImage(grpc::ServerContext*, const v1::PullImageRequest*,
                         grpc::ServerWriter<v1::PullImageResponse>* writer) override {
    v1::BlobProgress layer;
    layer.set_digest("sha256:1111111111112222");
    layer.set_media_type("application/vnd.oci.image.layer.v1.tar+gzip");
    layer.set_size(2048);
    layer.set_phase(v1::BlobProgress::PHASE_WAITING);
    v1::PullImageResponse response;
    auto* resolved = response.mutable_resolved();
    resolved->set_name("docker.io/library/busybox:latest");
    resolved->set_digest("sha256:abcdef");
    resolved->set_platform("linux/amd64");
    *resolved->add_blobs() = layer;
    writer->Write(response);
    for (auto phase : {v1::BlobProgress::PHASE_FETCHING, v1::BlobProgress::PHASE_VERIFIED,
                       v1::BlobProgress::PHASE_UNPACKED}) {
      layer.set_phase(phase);
      *response.mutable_progress() = layer;
      writer->Write(response);
    }
    auto* pulled = response.mutable_pulled();
    pulled->set_name("docker.io/library/busybox:latest");
    pulled->set_digest("sha256:abcdef0123456789");
    pulled->set_size(4096);
    writer->Write(response);
    return grpc::Status::OK;
  }

  // Registers the tarball under its own path, so the test sees what path was sent.
  grpc::Status ImportImage(grpc::ServerContext*, const v1::ImportImageRequest* request,
                           grpc::ServerWriter<v1::ImportImageResponse>* writer) override {
    if (request->path().empty() || request->path()[0] != '/') {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "path must be absolute");
    }
    v1::ImportImageResponse response;
    auto* image = response.mutable_imported();
    image->set_name(request->path());
    image->set_digest("sha256:0123456789abcdef");
    image->set_size(1024);
    writer->Write(response);
    return grpc::Status::OK;
  }

  grpc::Status Health(grpc::ServerContext*, const v1::HealthRequest*,
                      v1::HealthResponse* response) override {
    response->set_healthy(healthy);
    if (!healthy) response->set_reason("containerd not reachable");
    return grpc::Status::OK;
  }

  grpc::Status ListCertificates(grpc::ServerContext*, const v1::ListCertificatesRequest*,
                                v1::ListCertificatesResponse* response) override {
    v1::Certificate* c = response->add_certificates();
    c->set_host("pay.test");
    c->set_source("self-signed");
    c->mutable_not_after()->set_seconds(4'102'444'800);  // 2100-01-01
    c->set_note("no certificate for pay.test in /certs: self-signed");
    c->mutable_acme()->set_last_error("connection refused");
    return grpc::Status::OK;
  }

  grpc::Status Version(grpc::ServerContext*, const v1::VersionRequest*,
                       v1::VersionResponse* response) override {
    response->set_version("9.9.9");
    response->set_api("zlayer.v1");
    return grpc::Status::OK;
  }
};

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A temporary directory with the fake agent serving on `dir/agent.sock`.
class FakeNode {
 public:
  FakeNode() {
    char tmpl[] = "/tmp/zl-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/agent.sock";
  }
  ~FakeNode() {
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  void Serve() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(&agent_);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
  }

  FakeAgent& agent() { return agent_; }
  const std::string& dir() const { return dir_; }
  const std::string& socket() const { return socket_; }

  std::string WriteSpec(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // Runs build/bin/zlayer ARGS with ZLAYER_SOCKET pointing here.
  Outcome Run(std::vector<std::string> args, const std::string& stdin_path = "/dev/null") {
    std::string bin = std::string(ZLAYER_BIN_DIR) + "/zlayer";
    args.insert(args.begin(), bin);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string env_socket = "ZLAYER_SOCKET=" + socket_;
    char* envp[] = {env_socket.data(), nullptr};

    std::string out_path = dir_ + "/stdout";
    std::string err_path = dir_ + "/stderr";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, stdin_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), envp);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    Outcome outcome;
    outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    outcome.out = ReadFile(out_path);
    outcome.err = ReadFile(err_path);
    return outcome;
  }

 private:
  std::string dir_;
  std::string socket_;
  FakeAgent agent_;
  std::unique_ptr<grpc::Server> server_;
};

const char* kValidSpec =
    "version: v1\n"
    "deployment: hello\n"
    "services:\n"
    "  web:\n"
    "    image:\n"
    "      name: busybox:latest\n";

const char* kSpecTheAgentRejects =
    "version: v1\n"
    "deployment: bad\n"
    "services:\n"
    "  web:\n"
    "    image:\n"
    "      name: busybox:nope\n"
    "      pull_policy: never\n";

}  // namespace

TEST_CASE("Given a fake agent, `zlayer ps` prints its replicas as a table") {
  FakeNode node;
  node.Serve();
  auto r = node.Run({"ps"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("CONTAINER     SERVICE     STATE     HEALTH   PID"));
  CHECK_THAT(r.out,
             Catch::Contains("hello-web-0   hello/web   running   -        4242   -         0"));
  CHECK_THAT(r.out, Catch::Contains("42s"));
  CHECK(r.err.empty());
}

TEST_CASE("Given a fake agent, `zlayer ps -o json` prints proto names and the table's words") {
  FakeNode node;
  node.Serve();
  auto r = node.Run({"ps", "-o", "json"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("\"container_id\": \"hello-web-0\""));
  CHECK_THAT(r.out, Catch::Contains("\"phase\": \"converged\""));
  CHECK_THAT(r.out, Catch::Contains("\"state\": \"running\""));
  CHECK_THAT(r.out, Catch::Contains("\"generation\": 1,"));
  CHECK_THAT(r.out, Catch::Contains("\"uptime\": 42.0"));
}

TEST_CASE(
    "Given a fake agent, `zlayer certs` prints the table, then why a certificate is "
    "self-signed") {
  FakeNode node;
  node.Serve();
  auto r = node.Run({"certs"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("HOST       SOURCE        EXPIRES"));
  CHECK_THAT(r.out, Catch::Contains("pay.test   self-signed   2100-01-01 (in "));
  CHECK_THAT(r.out, Catch::Contains("failed: connection refused\n\n"
                                    "note: pay.test: no certificate for pay.test in /certs: "
                                    "self-signed\n"));
  auto json = node.Run({"certs", "-o", "json"});
  CHECK(json.exit_code == 0);
  CHECK_THAT(json.out, Catch::Contains("\"not_after\": \"2100-01-01T00:00:00.000000000Z\""));
  CHECK_THAT(json.out, Catch::Contains("\"last_error\": \"connection refused\""));
  CHECK_THAT(json.out, Catch::Contains("\"next_attempt\": null"));
}

TEST_CASE("An agent error is one line naming the command") {
  FakeNode node;
  node.Serve();
  auto r = node.Run({"ps", "missing"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "zlayer: ps: deployment missing not found\n");
  auto images = node.Run({"images"});
  CHECK(images.exit_code == 1);
  CHECK(images.err == "zlayer: the agent does not support images yet\n");
}

TEST_CASE("`deploy --dry-run` of a spec the agent rejects prints its problems, exit 1") {
  FakeNode node;
  node.Serve();
  std::string spec = node.WriteSpec("bad.yaml", kSpecTheAgentRejects);
  auto r = node.Run({"deploy", "--dry-run", spec});
  CHECK(r.exit_code == 1);
  CHECK(r.err == spec +
                     ":6:13: services.web.image.name: image busybox:nope is not on this node "
                     "and pull_policy is never\n");
  CHECK(r.out.empty());
}

TEST_CASE("`deploy --dry-run` of an accepted spec shows the plan") {
  FakeNode node;
  node.Serve();
  auto r = node.Run({"deploy", "--dry-run", node.WriteSpec("app.yaml", kValidSpec)});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "deployment hello: valid, would be generation 2 (dry run)\n"
        "  web: add, 1 replica\n");
}

TEST_CASE("`deploy --wait` streams progress and exits 0 once converged") {
  FakeNode node;
  node.Serve();
  auto r = node.Run({"deploy", "--wait", node.WriteSpec("app.yaml", kValidSpec)});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("web: hello-web-0 running\n"));
  CHECK_THAT(r.out, Catch::EndsWith("deployment hello: converged in 300ms\n"));
}

TEST_CASE("A spec that is invalid locally is never sent") {
  FakeNode node;
  node.Serve();
  std::string spec = node.WriteSpec("typo.yaml",
                                    "version: v1\ndeployment: hello\nservices:\n"
                                    "  web:\n    imgae: busybox\n");
  auto r = node.Run({"deploy", spec});
  CHECK(r.exit_code == 1);
  CHECK(r.err == spec + ":4:3: services.web.image: required (image.name is the image to run)\n" +
                     spec + ":5:5: services.web.imgae: unknown key; did you mean \"image\"?\n");
  CHECK(node.agent().deploy_calls == 0);
  auto v = node.Run({"validate", spec});
  CHECK(v.exit_code == 1);
  CHECK(v.err == r.err);
}

TEST_CASE("`validate` needs no agent") {
  FakeNode node;  // not serving
  std::string spec = node.WriteSpec("app.yaml", kValidSpec);
  auto r = node.Run({"validate", spec});
  CHECK(r.exit_code == 0);
  CHECK(r.out == spec + ": valid (deployment hello, 1 service)\n");
}

TEST_CASE("`health` exits 0 when healthy and 1 with the reason when not") {
  FakeNode node;
  node.Serve();
  auto ok = node.Run({"health"});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out == "healthy\n");
  node.agent().healthy = false;
  auto bad = node.Run({"health"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.out == "unhealthy: containerd not reachable\n");
}

TEST_CASE("`health DEPLOYMENT` asks about that deployment, not the node") {
  FakeNode node;
  node.Serve();
  node.agent().healthy = false;  // the node's answer must not matter
  auto ok = node.Run({"health", "hello"});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out == "deployment hello: converged, 1 replica running\n");
  auto missing = node.Run({"health", "missing"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == "zlayer: health: deployment missing not found\n");
}

TEST_CASE("`version` prints both versions, and the client's alone without an agent") {
  FakeNode node;
  node.Serve();
  auto r = node.Run({"version"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("client: "));
  CHECK_THAT(r.out, Catch::EndsWith("agent:  9.9.9 (api zlayer.v1)\n"));

  FakeNode empty;
  auto alone = empty.Run({"version"});
  CHECK(alone.exit_code == 0);
  CHECK_THAT(alone.out, Catch::StartsWith("client: "));
  CHECK_THAT(alone.out, Catch::Contains("agent:  not reachable at " + empty.socket() +
                                        " (is the node running?)\n"));
}

TEST_CASE("`logs` of several containers prefixes lines and keeps stderr apart") {
  FakeNode node;
  node.Serve();
  auto r = node.Run({"logs", "hello/web"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "started\n");
  CHECK(r.err == "hello-web-1 | warning\n");
}

TEST_CASE("Without an agent, commands say it is not reachable and exit 1") {
  FakeNode node;  // nothing listens on node.socket()
  auto r = node.Run({"ps"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "zlayer: agent not reachable at " + node.socket() + " (is the node running?)\n");

  // A socket file nobody accepts on (a dead agent) reads the same.
  std::ofstream(node.socket()) << "";
  auto stale = node.Run({"health"});
  CHECK(stale.exit_code == 1);
  CHECK_THAT(stale.err, Catch::Contains("agent not reachable at"));
}

TEST_CASE("Usage errors exit 2 with the usage; --help exits 0") {
  FakeNode node;
  auto unknown = node.Run({"frobnicate"});
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err,
             Catch::StartsWith("zlayer: unknown command \"frobnicate\"\nusage: zlayer"));
  auto missing = node.Run({"logs"});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err,
             Catch::StartsWith("zlayer: logs: missing TARGET\nusage: zlayer logs [-f] [-n N]"));
  auto help = node.Run({"--help"});
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::Contains("Exit codes:"));
  auto logs_help = node.Run({"logs", "--help"});
  CHECK(logs_help.exit_code == 0);
  CHECK_THAT(logs_help.out, Catch::StartsWith("usage: zlayer logs"));
}

TEST_CASE("`exec -i` forwards stdin, keeps stderr apart and exits with the process's code") {
  FakeNode node;
  node.Serve();
  std::string input = node.WriteSpec("input.txt", "hello from stdin\n");
  auto r = node.Run({"exec", "-i", "web", "--", "cat", "-n"}, input);
  CHECK(r.exit_code == 3);
  CHECK(r.out == "hello from stdin\n");
  CHECK(r.err == "argv: cat -n\n");

  auto quiet = node.Run({"exec", "web", "true"});
  CHECK(quiet.exit_code == 3);
  CHECK(quiet.out.empty());
}

TEST_CASE("`exec` failures of zlayer itself exit 125") {
  FakeNode node;
  node.Serve();
  auto r = node.Run({"exec", "stopped", "--", "sh"});
  CHECK(r.exit_code == 125);
  CHECK(r.err == "zlayer: exec: replica hello-stopped-0 has no running task\n");
  FakeNode empty;
  CHECK(empty.Run({"exec", "web", "--", "sh"}).exit_code == 125);
}

TEST_CASE("`pull` off a terminal prints plain progress lines and the pulled image") {
  FakeNode node;
  node.Serve();
  auto r = node.Run({"pull", "busybox"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith(
                        "pulling docker.io/library/busybox:latest@sha256:abcdef for linux/amd64\n"
                        "layer 111111111111: fetching 2.0KiB\n"
                        "layer 111111111111: verified (2.0KiB in "));  // then a timing
  CHECK_THAT(r.out,
             Catch::EndsWith(")\n"
                             "layer 111111111111: unpacked\n"
                             "pulled docker.io/library/busybox:latest (abcdef012345, 4.0KiB)\n"));
}

TEST_CASE("`image import` sends an absolute path: the agent opens the file") {
  FakeNode node;
  node.Serve();
  auto r = node.Run({"image", "import", "img.tar"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  std::string expected = (std::filesystem::current_path() / "img.tar").string();
  CHECK(r.out == "imported " + expected + " (0123456789ab, 1.0KiB)\n");
}

namespace {

// Reads `master` until `needle` appears or 20 s pass; returns everything read.
std::string ReadUntil(int master, const std::string& needle, std::string& seen) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  char buffer[4096];
  while (seen.find(needle) == std::string::npos && std::chrono::steady_clock::now() < give_up) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) break;  // EIO: the child closed the terminal
    seen.append(buffer, static_cast<size_t>(n));
  }
  return seen;
}

}  // namespace

TEST_CASE("`exec -it` puts the terminal in raw mode, forwards resizes and restores it") {
  FakeNode node;
  node.Serve();
  std::string bin = std::string(ZLAYER_BIN_DIR) + "/zlayer";
  std::string env_socket = "ZLAYER_SOCKET=" + node.socket();
  std::vector<std::string> args = {bin, "exec", "-it", "web", "--", "sh"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  char* envp[] = {env_socket.data(), nullptr};

  winsize size{};
  size.ws_col = 80;
  size.ws_row = 24;
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execve(bin.c_str(), argv.data(), envp);
    ::_exit(127);
  }
  std::string seen;
  CHECK_THAT(ReadUntil(master, "ready 80x24", seen), Catch::Contains("ready 80x24"));
  // Resizing the terminal sends the child SIGWINCH; zlayer forwards the new size.
  size.ws_col = 100;
  size.ws_row = 30;
  REQUIRE(::ioctl(master, TIOCSWINSZ, &size) == 0);
  CHECK_THAT(ReadUntil(master, "resized 100x30", seen), Catch::Contains("resized 100x30"));
  // In raw mode the keys arrive as typed, without a newline, Ctrl-D included.
  REQUIRE(::write(master, "hi\x04", 3) == 3);
  CHECK_THAT(ReadUntil(master, "echo:hi", seen), Catch::Contains("echo:hi"));
  // The local terminal did not echo the keys itself: "hi" appears once, from the agent.
  CHECK(seen.find("hi") == seen.find("echo:hi") + 5);
  CHECK(seen.find("hi", seen.find("echo:hi") + 6) == std::string::npos);

  ReadUntil(master, "\x01 not expected", seen);  // returns when zlayer closes the terminal
  int status = 0;
  for (int i = 0; i < 100 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) ::usleep(50'000);
  if (::waitpid(pid, &status, WNOHANG) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  // zlayer put the terminal back as it found it (canonical mode, echo).
  termios mode{};
  REQUIRE(::tcgetattr(master, &mode) == 0);
  CHECK((mode.c_lflag & ICANON) != 0);
  CHECK((mode.c_lflag & ECHO) != 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 3);
  ::close(master);
}
