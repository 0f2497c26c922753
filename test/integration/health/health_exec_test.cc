// Health checks (tcp, http, command) and captured execs against a real
// containerd (a private daemon per test, see private_containerd.h) running a
// busybox container on the node's network.
#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "agent/exec/exec_capture.h"
#include "agent/health/health_monitor.h"
#include "agent/health/prober_factory.h"
#include "test/integration/containerd/private_containerd.h"
#include "test/integration/containerd/test_blobs.h"

namespace zlayer::agent::health {
namespace {

using namespace std::chrono_literals;
using containerd::testing::MemoryBlobSource;
using containerd::testing::PrivateContainerd;
using containerd::testing::Sha256Digest;
using containerd::testing::TarWriter;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

uint16_t FreePort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

// An OCI spec running `/bin/sh -c script` as root in new pid/ipc/uts/mount
// namespaces and the host's network namespace.
std::string BusyboxSpec(const std::string& namespace_name, const std::string& id,
                        const std::string& script) {
  nlohmann::json caps = {"CAP_KILL",   "CAP_CHOWN",  "CAP_DAC_OVERRIDE",
                         "CAP_FOWNER", "CAP_SETUID", "CAP_SETGID"};
  nlohmann::json spec = {
      {"ociVersion", "1.0.2-dev"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"/bin/sh", "-c", script}},
        {"env", {"PATH=/bin", "GREETING=from-spec"}},
        {"cwd", "/www"},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}}},
      {"hostname", "zltest"},
      {"mounts",
       {{{"destination", "/proc"},
         {"type", "proc"},
         {"source", "proc"},
         {"options", {"nosuid", "noexec", "nodev"}}},
        {{"destination", "/dev"},
         {"type", "tmpfs"},
         {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}}}},
      {"linux",
       {{"namespaces",
         {{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}}},
        {"cgroupsPath", fmt::format("/{}/{}", namespace_name, id)},
        {"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}}}}};
  return spec.dump();
}

// Starts a busybox container `id` whose init runs `script`, with null IO.
// The private containerd tears it down.
Status StartBusybox(containerd::Client& client, const PrivateContainerd& daemon,
                    const std::string& id, const std::string& script) {
  auto lease = client.CreateLease(1h);
  if (!lease.ok()) return lease.status();
  TarWriter tar;
  tar.AddDirectory("bin");
  tar.AddFile("bin/busybox", ReadFile("/bin/busybox"), 0755);
  for (const char* applet : {"sh", "httpd", "sleep", "mkdir", "rm", "test", "echo", "cat", "kill",
                             "touch", "env", "pwd"}) {
    tar.AddSymlink(std::string("bin/") + applet, "busybox");
  }
  tar.AddDirectory("www");
  tar.AddFile("www/index.html", "hello from busybox\n");
  tar.AddDirectory("tmp", 01777);
  const std::string layer_tar = tar.Finish();
  const containerd::Descriptor layer{"application/vnd.oci.image.layer.v1.tar",
                                     Sha256Digest(layer_tar),
                                     static_cast<int64_t>(layer_tar.size()),
                                     {}};
  MemoryBlobSource source(layer_tar);
  ZLAYER_RETURN_IF_ERROR(client.WriteContent("layer-" + layer.digest, layer, source, {}, *lease));
  const std::string snapshotter = daemon.snapshotter();
  auto extract = client.PrepareSnapshot(snapshotter, "extract", "", {}, *lease);
  if (!extract.ok()) return extract.status();
  auto applied = client.ApplyDiff(layer, *extract, *lease);
  if (!applied.ok()) return applied.status();
  ZLAYER_RETURN_IF_ERROR(client.CommitSnapshot(snapshotter, "base", "extract", {}, *lease));
  auto mounts = client.PrepareSnapshot(snapshotter, id, "base", {}, *lease);
  if (!mounts.ok()) return mounts.status();
  containerd::ContainerRecord record;
  record.id = id;
  record.spec_json = BusyboxSpec(daemon.namespace_name(), id, script);
  record.snapshotter = snapshotter;
  record.snapshot_key = id;
  ZLAYER_RETURN_IF_ERROR(client.CreateContainer(record, *lease));
  auto pid = client.CreateTask({id, *mounts, "", "", "", false});
  if (!pid.ok()) return pid.status();
  auto started = client.StartTask(id, "");
  return started.ok() ? Status::Ok() : started.status();
}

// Runs the loop until `done()`; the limit only keeps a broken build from
// hanging the suite.
template <typename Pred>
void RunUntil(boost::asio::io_context& io, Pred done, std::chrono::seconds limit = 60s) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    io.run_one_for(100ms);
    if (io.stopped()) io.restart();
  }
  REQUIRE(done());
}

Result<exec::CaptureResult> RunIn(boost::asio::io_context& io, const exec::ExecContext& context,
                                  const std::string& fifo_dir, const std::string& id,
                                  std::vector<std::string> args,
                                  std::chrono::nanoseconds timeout = 20s) {
  std::optional<Result<exec::CaptureResult>> result;
  exec::CaptureOptions options;
  options.timeout = timeout;
  exec::RunCaptured(context, fifo_dir, id, std::move(args), options,
                    [&](Result<exec::CaptureResult> r) { result.emplace(std::move(r)); });
  RunUntil(io, [&] { return result.has_value(); });
  return std::move(*result);
}

spec::Health QuickHealth(spec::HealthCheck check) {
  spec::Health health;
  health.start_grace = 0s;
  health.interval = 200ms;
  health.timeout = 5s;
  health.retries = 2;
  health.check = std::move(check);
  return health;
}

#define REQUIRE_OK(status_expr)                \
  do {                                         \
    const ::zlayer::Status s_ = (status_expr); \
    INFO(s_.ToString());                       \
    REQUIRE(s_.ok());                          \
  } while (0)

TEST_CASE(
    "health: tcp and http checks of a busybox httpd go healthy, then unhealthy when "
    "the server stops",
    "[health]") {
  PrivateContainerd daemon;
  INFO(daemon.started().ToString());
  REQUIRE(daemon.started().ok());
  auto client = daemon.NewClient();
  const uint16_t port = FreePort();
  // httpd serves while /tmp/up exists.
  const std::string script = fmt::format(
      "touch /tmp/up; httpd -f -p 127.0.0.1:{} -h /www & "
      "while test -e /tmp/up; do sleep 0.1; done; kill $!; sleep 1000",
      port);
  REQUIRE_OK(StartBusybox(*client, daemon, "web", script));

  boost::asio::io_context io;
  boost::asio::thread_pool pool(2);
  Logger log("health-test", LogLevel::kWarn);
  const std::string state_dir = daemon.NewFifoDir();
  auto prober = NewProber(io, *client, pool, state_dir, log);
  HealthMonitor monitor(io, *prober, log);

  spec::HealthCheck tcp;
  tcp.type = spec::HealthCheckType::kTcp;
  tcp.port = port;
  spec::HealthCheck http;
  http.type = spec::HealthCheckType::kHttp;
  http.url = fmt::format("http://127.0.0.1:{}/index.html", port);
  // Two watches of the one container, under two ids (the monitor keys by id).
  std::vector<std::pair<std::string, HealthState>> changes;
  auto record = [&](const std::string& id, HealthState state, const CheckResult&) {
    changes.emplace_back(id, state);
  };
  monitor.Watch(ProbeTarget{"web-tcp"}, QuickHealth(tcp), record);
  monitor.Watch(ProbeTarget{"web-http"}, QuickHealth(http), record);
  RunUntil(io, [&] {
    return monitor.State("web-tcp") == HealthState::kHealthy &&
           monitor.State("web-http") == HealthState::kHealthy;
  });
  auto http_history = monitor.History("web-http");
  REQUIRE_FALSE(http_history.empty());
  CHECK_THAT(http_history.back().output,
             Catch::Contains("200") && Catch::Contains("hello from busybox"));

  // Stop the server from inside the container: an exec.
  exec::ExecContext context{io, pool, *client, *client, &log};
  auto stopped = RunIn(io, context, state_dir + "/web", "web", {"rm", "/tmp/up"});
  INFO(stopped.status().ToString());
  REQUIRE(stopped.ok());
  CHECK(stopped->exit_code == 0);

  RunUntil(io, [&] {
    return monitor.State("web-tcp") == HealthState::kUnhealthy &&
           monitor.State("web-http") == HealthState::kUnhealthy;
  });
  CHECK_THAT(monitor.History("web-tcp").back().output, Catch::Contains("refused"));
  CHECK(monitor.ConsecutiveFailures("web-http") >= 2);
  // Each went starting → healthy → unhealthy, nothing else.
  for (const char* id : {"web-tcp", "web-http"}) {
    std::vector<HealthState> seen;
    for (auto& [who, state] : changes) {
      if (who == id) seen.push_back(state);
    }
    INFO(id);
    CHECK(seen == std::vector<HealthState>{HealthState::kHealthy, HealthState::kUnhealthy});
  }
  monitor.Unwatch("web-tcp");
  monitor.Unwatch("web-http");
  pool.join();
}

TEST_CASE(
    "health: a command check runs inside the container, healthy while it exits 0, "
    "unhealthy once it exits 1",
    "[health]") {
  PrivateContainerd daemon;
  INFO(daemon.started().ToString());
  REQUIRE(daemon.started().ok());
  auto client = daemon.NewClient();
  REQUIRE_OK(StartBusybox(*client, daemon, "worker", "touch /tmp/ok; sleep 1000"));

  boost::asio::io_context io;
  boost::asio::thread_pool pool(2);
  Logger log("health-test", LogLevel::kWarn);
  const std::string state_dir = daemon.NewFifoDir();
  auto prober = NewProber(io, *client, pool, state_dir, log);
  HealthMonitor monitor(io, *prober, log);

  spec::HealthCheck command;
  command.type = spec::HealthCheckType::kCommand;
  // /tmp/ok exists only inside the container: a check run on the node fails.
  command.command = {"/bin/sh", "-c", "echo checking; test -e /tmp/ok"};
  std::vector<HealthState> changes;
  monitor.Watch(
      "worker", QuickHealth(command),
      [&](const std::string&, HealthState state, const CheckResult&) { changes.push_back(state); });
  RunUntil(io, [&] { return monitor.State("worker") == HealthState::kHealthy; });
  auto last = monitor.History("worker").back();
  CHECK(last.exit_code == 0);
  CHECK(last.output == "checking\n");

  exec::ExecContext context{io, pool, *client, *client, &log};
  REQUIRE(RunIn(io, context, state_dir + "/worker", "worker", {"rm", "/tmp/ok"}).ok());
  RunUntil(io, [&] { return monitor.State("worker") == HealthState::kUnhealthy; });
  last = monitor.History("worker").back();
  CHECK(last.exit_code == 1);
  CHECK_FALSE(last.ok);
  CHECK(changes == std::vector<HealthState>{HealthState::kHealthy, HealthState::kUnhealthy});
  monitor.Unwatch("worker");
  pool.join();
}

TEST_CASE(
    "exec: a captured exec runs with the container's env and cwd, returns its exit code "
    "and output, and is killed at its timeout",
    "[exec]") {
  PrivateContainerd daemon;
  INFO(daemon.started().ToString());
  REQUIRE(daemon.started().ok());
  auto client = daemon.NewClient();
  REQUIRE_OK(StartBusybox(*client, daemon, "box", "sleep 1000"));
  boost::asio::io_context io;
  boost::asio::thread_pool pool(2);
  Logger log("exec-test", LogLevel::kWarn);
  const std::string fifo_dir = daemon.NewFifoDir() + "/box";
  exec::ExecContext context{io, pool, *client, *client, &log};

  auto three = RunIn(io, context, fifo_dir, "box",
                     {"sh", "-c", "echo $GREETING; pwd; echo oops >&2; exit 3"});
  INFO(three.status().ToString());
  REQUIRE(three.ok());
  CHECK(three->exit_code == 3);
  // stdout and stderr come through separate FIFOs: each stream keeps its order, but
  // how the two interleave is up to the scheduler.
  std::string stdout_part = three->output;
  const auto stderr_at = stdout_part.find("oops\n");
  REQUIRE(stderr_at != std::string::npos);
  stdout_part.erase(stderr_at, 5);
  CHECK(stdout_part == "from-spec\n/www\n");
  CHECK_FALSE(three->timed_out);

  auto big =
      RunIn(io, context, fifo_dir, "box",
            {"sh", "-c", "i=0; while test $i -lt 2000; do echo 0123456789; i=$((i+1)); done"});
  REQUIRE(big.ok());
  CHECK(big->output.size() == 4096);
  CHECK(big->truncated);
  CHECK(big->exit_code == 0);

  auto slow = RunIn(io, context, fifo_dir, "box", {"sleep", "30"}, 300ms);
  REQUIRE(slow.ok());
  CHECK(slow->timed_out);
  CHECK(slow->exit_code == 137);

  auto missing = RunIn(io, context, fifo_dir, "box", {"/no/such/program"});
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains("exec in box"));

  auto no_container = RunIn(io, context, fifo_dir, "ghost", {"true"});
  REQUIRE_FALSE(no_container.ok());
  CHECK(no_container.status().code() == StatusCode::kNotFound);
  // Every run removed its FIFOs.
  CHECK(std::filesystem::is_empty(fifo_dir));
  pool.join();
}

}  // namespace
}  // namespace zlayer::agent::health
