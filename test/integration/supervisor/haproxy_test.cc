// HAProxy under zlayer-init: Debian's real HAProxy 2.6, started with the
// node's ingress files, up once it sent READY=1, reloaded through its master
// CLI without zlayer-init taking the reload for a failure, restarted when it
// dies, stopped after the agent, and never the reason the node stops or the
// agent waits. Listeners of these tests: 127.0.0.1:18201-18202.
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <map>

#include "common/config.h"
#include "common/supervised_children.h"
#include "test/integration/supervisor/node.h"
#include "test/support/files.h"
#include "test/support/proc.h"

using namespace zlayer::testing;
using namespace std::chrono_literals;

namespace {

std::map<std::string, zlayer::SupervisedChild> Children(const Node& node) {
  std::map<std::string, zlayer::SupervisedChild> by_name;
  auto children = zlayer::ReadSupervisedChildren(node.RunDir());
  if (!children.ok()) return by_name;
  for (const auto& child : *children) by_name[child.name] = child;
  return by_name;
}

zlayer::IngressPaths Ingress(const Node& node) {
  zlayer::NodeConfig config;
  config.run_dir = node.RunDir();
  return zlayer::IngressPathsFor(config);
}

// The real program, looked up on PATH by zlayer-init.
NodeOptions WithRealHaproxy(NodeOptions options) {
  options.env["ZLAYER_HAPROXY_BIN"] = "haproxy";
  return options;
}

// Sends one command to a HAProxy CLI socket (runtime API or master CLI) and
// returns the whole answer; "" when nothing answers there.
std::string AskHaproxy(const std::string& socket_path, const std::string& command) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string line = command + "\n";
    if (write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
      shutdown(fd, SHUT_WR);  // the master CLI answers, then closes
      char buffer[4096];
      for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) answer.append(buffer, n);
    }
  }
  close(fd);
  return answer;
}

bool HaproxyAnswers(const Node& node) {
  return AskHaproxy(Ingress(node).admin_socket, "show info").find("Name: HAProxy") !=
         std::string::npos;
}

bool HaproxyUp(const Node& node) {
  return WaitUntil([&] { return Children(node)["haproxy"].up; });
}

std::string Curl(const std::string& url) {
  RunResult result = Run({"curl", "-s", "--max-time", "5", url}, 10s);
  return result.status.exited && result.status.code == 0 ? result.out
                                                         : "curl failed: " + result.err;
}

// A configuration as the agent would write it: the bootstrap's runtime API and
// one listener answering `text`.
std::string AgentConfig(const zlayer::IngressPaths& paths, int port, const std::string& text) {
  return "global\n    stats socket " + paths.admin_socket +
         " mode 600 level admin expose-fd listeners\n    hard-stop-after 30s\n"
         "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n"
         "    timeout server 30s\n"
         "frontend probe\n    bind 127.0.0.1:" +
         std::to_string(port) +
         "\n    http-request return status 200 content-type text/plain string " + text + "\n";
}

void StopAndExpectExit0(Node& node) {
  node.Signal(SIGTERM);
  auto status = node.Wait();
  REQUIRE(status);
  CHECK(status->ToString() == "exit 0");
  CHECK(node.Leftovers().empty());
}

}  // namespace

TEST_CASE(
    "Given a node coming up with Debian's HAProxy, zlayer-init writes the listener-less "
    "configuration, and HAProxy is up once it sent READY=1 and answers on its admin socket") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node(WithRealHaproxy({.mode = mode}));
  REQUIRE(node.StartAndWaitUntilUp());
  REQUIRE(HaproxyUp(node));
  const zlayer::IngressPaths paths = Ingress(node);

  const std::string config = ReadFile(paths.config_file);
  INFO("the configuration: " << config);
  CHECK_THAT(config, Catch::Contains("stats socket " + paths.admin_socket +
                                     " mode 600 level admin expose-fd listeners"));
  CHECK_THAT(config, Catch::Contains("hard-stop-after 30s"));
  CHECK_THAT(config, !Catch::Contains("bind "));
  RunResult check = Run({"haproxy", "-c", "-f", paths.config_file}, 10s);
  INFO("haproxy -c: " << check.out << check.err);
  CHECK(check.status.ToString() == "exit 0");
  CHECK(std::filesystem::is_directory(paths.maps_dir));
  CHECK(std::filesystem::is_directory(paths.certs_dir));

  const std::string info = AskHaproxy(paths.admin_socket, "show info");
  CHECK_THAT(info, Catch::Contains("Name: HAProxy"));
  CHECK_THAT(info, Catch::Contains("Version: 2.6"));
  CHECK(node.CountLogLines("haproxy is ready") == 1);
  CHECK(node.CountLogLines("wrote a listener-less haproxy configuration") == 1);

  StopAndExpectExit0(node);
  CHECK(node.CountLogLines("haproxy (pid ") >= 1);
  CHECK(node.CountLogLines(") exited with code 0") >= 1);
  CHECK(node.CountLogLines("restarting haproxy") == 0);
}

TEST_CASE(
    "Given a configuration the agent wrote before, zlayer-init keeps it and HAProxy serves it") {
  Node node(WithRealHaproxy({}));
  const zlayer::IngressPaths paths = Ingress(node);
  std::filesystem::create_directories(paths.dir);
  const std::string agents = AgentConfig(paths, 18201, "from-the-agent");
  WriteFile(paths.config_file, agents);

  REQUIRE(node.StartAndWaitUntilUp());
  REQUIRE(HaproxyUp(node));
  CHECK(ReadFile(paths.config_file) == agents);
  CHECK(node.CountLogLines("wrote a listener-less haproxy configuration") == 0);
  CHECK(Curl("http://127.0.0.1:18201/") == "from-the-agent");
  StopAndExpectExit0(node);
}

TEST_CASE(
    "Given reloads of HAProxy through its master CLI, zlayer-init takes RELOADING=1 for what it "
    "is: the same "
    "master keeps running, up, never restarted, and serves the rewritten configuration") {
  Node node(WithRealHaproxy({}));
  REQUIRE(node.StartAndWaitUntilUp());
  REQUIRE(HaproxyUp(node));
  const zlayer::IngressPaths paths = Ingress(node);
  const pid_t master = node.ChildRunning("haproxy");
  REQUIRE(master != 0);

  // What the agent does for a new listener port: rewrite, then reload.
  WriteFile(paths.config_file, AgentConfig(paths, 18202, "after-reload"));
  for (int reload = 1; reload <= 3; ++reload) {
    AskHaproxy(paths.master_socket, "reload");
    CHECK(node.WaitForLog("haproxy reloaded", reload));
  }
  CHECK(node.CountLogLines("haproxy is reloading") == 3);
  CHECK(Curl("http://127.0.0.1:18202/") == "after-reload");
  const std::string processes = AskHaproxy(paths.master_socket, "show proc");
  INFO("show proc: " << processes);
  CHECK_THAT(processes, Catch::Contains(std::to_string(master) + " ") &&
                            Catch::Contains("master          3 [failed: 0]"));

  CHECK(node.ChildRunning("haproxy") == master);
  CHECK(Children(node)["haproxy"].up);
  CHECK(Children(node)["haproxy"].detail == "ready (pid " + std::to_string(master) + ")");
  CHECK(node.CountLogLines("started haproxy") == 1);
  CHECK(node.CountLogLines("restarting haproxy") == 0);
  CHECK(node.CountLogLines("did not become ready") == 0);
  StopAndExpectExit0(node);
}

TEST_CASE(
    "Given kill -9 of HAProxy's master or of its worker, zlayer-init starts a new HAProxy and "
    "leaves containerd and the agent running") {
  const bool kill_worker = GENERATE(false, true);
  INFO((kill_worker ? "kill -9 of the worker" : "kill -9 of the master"));
  Node node(WithRealHaproxy({}));
  REQUIRE(node.StartAndWaitUntilUp());
  REQUIRE(HaproxyUp(node));
  const pid_t master = node.ChildRunning("haproxy");
  REQUIRE(master != 0);
  const pid_t agent = node.SlotPid(Slot::kAgent);
  const pid_t containerd = node.SlotPid(Slot::kContainerd);

  if (kill_worker) {
    std::vector<pid_t> workers = ChildrenOf(master);
    REQUIRE(workers.size() == 1);
    kill(workers.front(), SIGKILL);  // the master exits with the worker's status
  } else {
    kill(master, SIGKILL);
  }

  CHECK(node.WaitForLog("restarting haproxy in"));
  CHECK(node.WaitForLog("started haproxy", 2));
  CHECK(WaitUntil([&] {
    const pid_t now = node.ChildRunning("haproxy");
    return now != 0 && now != master && Children(node)["haproxy"].up;
  }));
  CHECK(WaitUntil([&] { return HaproxyAnswers(node); }));
  CHECK(node.CountLogLines("crashed after being ready") == 1);
  CHECK(node.SlotPid(Slot::kAgent) == agent);
  CHECK(node.SlotPid(Slot::kContainerd) == containerd);
  CHECK(node.Starts(Slot::kAgent) == 1);
  StopAndExpectExit0(node);
}

TEST_CASE("Given no haproxy installed, the node comes up without it and says so") {
  Node node({.env = {{"ZLAYER_HAPROXY_BIN", "/nonexistent/haproxy"}}});
  REQUIRE(node.StartAndWaitUntilUp());
  CHECK(node.CountLogLines("/nonexistent/haproxy") >= 1);
  CHECK(WaitUntil([&] { return node.CountLogLines("restarting haproxy in") >= 2; }));
  CHECK(node.Running());
  auto haproxy = Children(node)["haproxy"];
  CHECK_FALSE(haproxy.up);
  CHECK_THAT(haproxy.detail, Catch::Contains("cannot start"));
  CHECK(Children(node)["zlayer-agent"].up);
  StopAndExpectExit0(node);
}

TEST_CASE(
    "Given a haproxy that exits at once forever, the node still comes up and zlayer-init keeps "
    "restarting it past ZLAYER_RESTART_LIMIT") {
  Node node({.haproxy_body = "exit 1\n", .env = {{"ZLAYER_RESTART_LIMIT", "2"}}});
  REQUIRE(node.StartAndWaitUntilUp());
  CHECK(WaitUntil([&] { return node.Starts(Slot::kHaproxy) >= 4; }));
  CHECK(node.Running());
  CHECK(node.CountLogLines("giving up") == 0);
  CHECK(node.CountLogLines("never became ready") >= 3);
  CHECK(Children(node)["zlayer-agent"].up);
  StopAndExpectExit0(node);
}

TEST_CASE("Given a haproxy that never sends READY=1, the agent starts anyway and haproxy is down") {
  Node node({.haproxy_body = "idle\n"});
  REQUIRE(node.StartAndWaitUntilUp());
  REQUIRE(node.WaitForEvent("haproxy-idle"));
  CHECK(Children(node)["zlayer-agent"].up);
  CHECK_FALSE(Children(node)["haproxy"].up);
  StopAndExpectExit0(node);
}

TEST_CASE(
    "Given a shutdown, haproxy stops after the agent (which drained it) and before containerd") {
  const InitMode mode = GENERATE(InitMode::kSubreaper, InitMode::kPid1);
  INFO("zlayer-init " << ToString(mode));
  Node node({.mode = mode});
  REQUIRE(node.StartAndWaitUntilUp());
  REQUIRE(node.WaitForEvent("haproxy-idle"));
  REQUIRE(WaitUntil([&] { return Children(node)["haproxy"].up; }));
  StopAndExpectExit0(node);
  REQUIRE(node.CountEvents("haproxy-stopping") == 1);
  CHECK(node.EventIndex("agent-stopped") < node.EventIndex("haproxy-stopping"));
  CHECK(node.EventIndex("haproxy-stopped") < node.EventIndex("containerd-stopping"));
  CHECK(node.EventIndex("containerd-stopped") < node.EventIndex("dnsmasq-stopping"));
}

TEST_CASE(
    "Given a reload of HAProxy with a broken configuration, the old worker keeps serving and "
    "zlayer-init neither stops nor restarts it (the master CLI counts the failed reload)") {
  Node node(WithRealHaproxy({}));
  const zlayer::IngressPaths paths = Ingress(node);
  std::filesystem::create_directories(paths.dir);
  WriteFile(paths.config_file, AgentConfig(paths, 18201, "still-serving"));
  REQUIRE(node.StartAndWaitUntilUp());
  REQUIRE(HaproxyUp(node));
  const pid_t master = node.ChildRunning("haproxy");

  WriteFile(paths.config_file, AgentConfig(paths, 18201, "never") + "bogus directive\n");
  AskHaproxy(paths.master_socket, "reload");
  // HAProxy 2.6 still ends a failed reload with READY=1.
  CHECK(node.WaitForLog("haproxy reloaded"));
  CHECK_THAT(AskHaproxy(paths.master_socket, "show proc"),
             Catch::Contains("master          1 [failed: 1]"));
  CHECK(Curl("http://127.0.0.1:18201/") == "still-serving");
  CHECK(node.ChildRunning("haproxy") == master);
  CHECK(Children(node)["haproxy"].up);
  CHECK(node.CountLogLines("restarting haproxy") == 0);
  StopAndExpectExit0(node);
}
