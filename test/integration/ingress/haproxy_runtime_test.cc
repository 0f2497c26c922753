// The runtime API client (agent/ingress/haproxy_runtime.h) against the real
// HAProxy 2.6 in master-worker mode, under wrk's load: servers added, removed
// and two reloads while 32 connections send requests, and not one request
// fails. Also what goes wrong: a missing backend, a missing socket, deadlines,
// a rejected configuration.
//
// Each case runs its own haproxy (-W -db, its master CLI and admin stats
// socket in a private temporary directory) in front of small keep-alive HTTP
// backends served by this test on a thread of their own. Ports: 127.0.0.1,
// 18110-18114 and 18120-18121.
#include "agent/ingress/haproxy_runtime.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test/support/child_process.h"
#include "test/support/files.h"
#include "test/support/temp_dir.h"

using namespace std::chrono_literals;
using namespace zlayer::agent::ingress;
using boost::asio::ip::tcp;
using zlayer::Result;
using zlayer::Status;
using zlayer::StatusCode;
using zlayer::testing::ChildProcess;
using zlayer::testing::ReadFile;
using zlayer::testing::TempDir;
using zlayer::testing::WriteFile;

namespace {

using SteadyClock = std::chrono::steady_clock;

// Keep-alive HTTP/1.1 servers on 127.0.0.1, one per port, answering every
// request "200 OK" at once, except "GET /slow" after 3 s. On their own thread.
class HttpBackends {
 public:
  explicit HttpBackends(const std::vector<uint16_t>& ports) {
    for (uint16_t port : ports) {
      auto listener = std::make_shared<Listener>(io_, port);
      listeners_[port] = listener;
      Accept(listener);
    }
    thread_ = std::thread([this] { io_.run(); });
  }
  ~HttpBackends() {
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // Closes the port's listener and every connection to it, as a stopped
  // replica would.
  void Stop(uint16_t port) {
    std::promise<void> stopped;
    boost::asio::post(io_, [&] {
      auto& listener = listeners_.at(port);
      listener->stopped = true;
      boost::system::error_code ignored;
      listener->acceptor.close(ignored);
      for (auto& socket : listener->connections) socket->close(ignored);
      stopped.set_value();
    });
    stopped.get_future().wait();
  }

  uint64_t Requests(uint16_t port) { return listeners_.at(port)->requests.load(); }

 private:
  struct Listener {
    Listener(boost::asio::io_context& io, uint16_t port)
        : acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port)),
          port(port) {}
    tcp::acceptor acceptor;
    uint16_t port;
    std::set<std::shared_ptr<tcp::socket>> connections;
    std::atomic<uint64_t> requests{0};
    bool stopped = false;
  };
  struct Connection {
    std::shared_ptr<tcp::socket> socket;
    std::string buffer;
    std::array<char, 4096> chunk{};
    std::string response;
    boost::asio::steady_timer timer;
    explicit Connection(boost::asio::io_context& io) : timer(io) {}
  };

  void Accept(std::shared_ptr<Listener> listener) {
    listener->acceptor.async_accept(
        [this, listener](boost::system::error_code ec, tcp::socket socket) {
          if (ec || listener->stopped) return;
          auto connection = std::make_shared<Connection>(io_);
          connection->socket = std::make_shared<tcp::socket>(std::move(socket));
          listener->connections.insert(connection->socket);
          Read(listener, connection);
          Accept(listener);
        });
  }

  void Read(std::shared_ptr<Listener> listener, std::shared_ptr<Connection> c) {
    size_t end = c->buffer.find("\r\n\r\n");
    if (end != std::string::npos) {
      bool slow = c->buffer.starts_with("GET /slow");
      c->buffer.erase(0, end + 4);
      ++listener->requests;
      std::string body = fmt::format("backend {}\n", listener->port);
      c->response =
          fmt::format("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{}",
                      body.size(), body);
      auto respond = [this, listener, c] {
        boost::asio::async_write(*c->socket, boost::asio::buffer(c->response),
                                 [this, listener, c](boost::system::error_code ec, size_t) {
                                   if (ec) return Drop(listener, c);
                                   Read(listener, c);
                                 });
      };
      if (!slow) return respond();
      c->timer.expires_after(3s);
      c->timer.async_wait([respond](boost::system::error_code) { respond(); });
      return;
    }
    c->socket->async_read_some(boost::asio::buffer(c->chunk),
                               [this, listener, c](boost::system::error_code ec, size_t n) {
                                 if (ec) return Drop(listener, c);
                                 c->buffer.append(c->chunk.data(), n);
                                 Read(listener, c);
                               });
  }

  void Drop(const std::shared_ptr<Listener>& listener, const std::shared_ptr<Connection>& c) {
    boost::system::error_code ignored;
    c->socket->close(ignored);
    listener->connections.erase(c->socket);
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::map<uint16_t, std::shared_ptr<Listener>> listeners_;
  std::thread thread_;
};

struct ServerLine {
  std::string name;
  uint16_t port;
};

std::string Config(const TempDir& dir, uint16_t frontend, const std::vector<ServerLine>& servers) {
  std::string config = fmt::format(
      "global\n"
      "  stats socket {}/admin.sock mode 600 level admin expose-fd listeners\n"
      "  hard-stop-after 30s\n"
      "defaults\n"
      "  mode http\n"
      "  timeout connect 2s\n"
      "  timeout client 30s\n"
      "  timeout server 30s\n"
      "  option idle-close-on-response\n"
      "frontend fe\n"
      "  bind 127.0.0.1:{}\n"
      "  default_backend be\n"
      "backend be\n"
      "  balance roundrobin\n",
      dir.path(), frontend);
  for (const ServerLine& server : servers) {
    config += fmt::format("  server {} 127.0.0.1:{} pool-max-conn -1 pool-purge-delay 5s\n",
                          server.name, server.port);
  }
  return config;
}

// The test's event loop, driven from the test's thread until an outcome is in.
class Loop {
 public:
  boost::asio::io_context& io() { return io_; }

  template <typename T>
  T Until(std::optional<T>& outcome, std::chrono::milliseconds limit = 60s) {
    auto give_up = SteadyClock::now() + limit;
    io_.restart();
    while (!outcome && SteadyClock::now() < give_up) io_.run_one_for(100ms);
    if (!outcome) FAIL("no outcome within " << limit.count() << " ms");
    return std::move(*outcome);
  }

  Status Await(const std::function<void(std::function<void(Status)>)>& start) {
    std::optional<Status> outcome;
    start([&](Status status) { outcome = std::move(status); });
    return Until(outcome);
  }

  Result<std::string> Command(HaproxyCommands& commands, const std::string& command) {
    std::optional<Result<std::string>> outcome;
    commands.Execute(command, [&](Result<std::string> answer) { outcome = std::move(answer); });
    return Until(outcome);
  }

  void Pause(std::chrono::milliseconds duration) {
    boost::asio::steady_timer timer(io_, duration);
    std::optional<bool> done;
    timer.async_wait([&](boost::system::error_code) { done = true; });
    Until(done);
  }

 private:
  boost::asio::io_context io_;
};

// haproxy -W -db in `dir`, with its master CLI at dir/master.sock.
class Haproxy {
 public:
  Haproxy(const TempDir& dir, const std::string& config, Loop& loop)
      : dir_(dir),
        loop_(loop),
        admin_(loop.io(), dir / "admin.sock"),
        master_(loop.io(), dir / "master.sock") {
    WriteFile(dir / "haproxy.cfg", config);
    process_.emplace(zlayer::testing::SpawnOptions{
        .argv = {"haproxy", "-W", "-db", "-f", dir / "haproxy.cfg", "-S", dir / "master.sock"},
        .env = zlayer::testing::CurrentEnvironment(),
        .stdout_path = dir / "haproxy.log",
        .stderr_path = dir / "haproxy.log"});
    for (int i = 0; i < 200; ++i) {
      if (loop_.Command(admin_, "show servers state be").ok() &&
          loop_.Command(master_, "show proc").ok()) {
        return;
      }
      loop_.Pause(50ms);
    }
    FAIL("haproxy did not start: " << ReadFile(dir / "haproxy.log"));
  }
  ~Haproxy() {
    process_->Signal(SIGTERM);
    if (!process_->Wait(10s)) process_->KillTree();
  }

  HaproxyCommands& admin() { return admin_; }
  HaproxyCommands& master() { return master_; }
  std::string log() const { return ReadFile(dir_ / "haproxy.log"); }

  // The servers of backend "be", by name.
  std::map<std::string, ServerState> Servers() {
    auto answer = loop_.Command(admin_, "show servers state be");
    REQUIRE(answer.ok());
    auto servers = ParseServersState(*answer);
    REQUIRE(servers.ok());
    std::map<std::string, ServerState> by_name;
    for (ServerState& server : *servers) by_name[server.name] = server;
    return by_name;
  }

  // Until the workers of previous configurations have exited.
  void WaitForOldWorkers() {
    for (int i = 0; i < 400; ++i) {
      auto answer = loop_.Command(master_, "show proc");
      if (answer.ok()) {
        auto list = ParseShowProc(*answer);
        if (list.ok() && list->old_workers.empty()) return;
      }
      loop_.Pause(50ms);
    }
    FAIL("old workers still run after 20 s");
  }

 private:
  const TempDir& dir_;
  Loop& loop_;
  SocketHaproxyCommands admin_;
  SocketHaproxyCommands master_;
  std::optional<ChildProcess> process_;
};

std::set<std::string> InRotation(const std::map<std::string, ServerState>& servers) {
  std::set<std::string> names;
  for (const auto& [name, server] : servers) {
    if (server.in_rotation()) names.insert(name);
  }
  return names;
}

SteadyClock::time_point In(std::chrono::milliseconds d) { return SteadyClock::now() + d; }

}  // namespace

TEST_CASE("Under wrk's load, servers added, removed and two reloads fail no request") {
  TempDir dir;
  HttpBackends backends({18111, 18112, 18113, 18114});
  Loop loop;
  Haproxy haproxy(dir, Config(dir, 18110, {{"s1", 18111}}), loop);

  ChildProcess wrk(zlayer::testing::SpawnOptions{
      .argv = {"wrk", "-t2", "-c32", "-d10s", "http://127.0.0.1:18110/"},
      .env = zlayer::testing::CurrentEnvironment(),
      .stdout_path = dir / "wrk.out",
      .stderr_path = dir / "wrk.out"});
  auto started = SteadyClock::now();
  loop.Pause(1s);

  // Two replicas become ready.
  for (auto [name, port] : {std::pair{"s2", 18112}, std::pair{"s3", 18113}}) {
    Status added = loop.Await([&](auto done) {
      AddServer(haproxy.admin(), "be", ProxyServer{name, "127.0.0.1", uint16_t(port)}, done);
    });
    REQUIRE(added.ok());
  }
  CHECK(InRotation(haproxy.Servers()) == std::set<std::string>{"s1", "s2", "s3"});
  // Adding again what is there is fine.
  REQUIRE(loop.Await([&](auto done) {
                AddServer(haproxy.admin(), "be", ProxyServer{"s3", "127.0.0.1", 18113}, done);
              })
              .ok());
  loop.Pause(1s);

  // A reload, with the configuration kept in step with the runtime changes.
  WriteFile(dir / "haproxy.cfg", Config(dir, 18110, {{"s1", 18111}, {"s2", 18112}, {"s3", 18113}}));
  Status reloaded =
      loop.Await([&](auto done) { Reload(haproxy.master(), loop.io(), In(10s), done); });
  REQUIRE(reloaded.ok());
  CHECK(InRotation(haproxy.Servers()) == std::set<std::string>{"s1", "s2", "s3"});
  haproxy.WaitForOldWorkers();

  // s2's replica stops: out of rotation, then the replica goes away.
  Status removed = loop.Await(
      [&](auto done) { RemoveServer(haproxy.admin(), loop.io(), "be", "s2", In(5s), done); });
  REQUIRE(removed.ok());
  backends.Stop(18112);
  const uint64_t s2_requests = backends.Requests(18112);
  CHECK(haproxy.Servers().count("s2") == 0);

  // A new replica, then a second reload.
  REQUIRE(loop.Await([&](auto done) {
                AddServer(haproxy.admin(), "be", ProxyServer{"s4", "127.0.0.1", 18114}, done);
              })
              .ok());
  loop.Pause(500ms);
  WriteFile(dir / "haproxy.cfg", Config(dir, 18110, {{"s1", 18111}, {"s3", 18113}, {"s4", 18114}}));
  reloaded = loop.Await([&](auto done) { Reload(haproxy.master(), loop.io(), In(10s), done); });
  REQUIRE(reloaded.ok());
  haproxy.WaitForOldWorkers();

  // s1's replica stops too.
  removed = loop.Await(
      [&](auto done) { RemoveServer(haproxy.admin(), loop.io(), "be", "s1", In(5s), done); });
  REQUIRE(removed.ok());
  backends.Stop(18111);
  const uint64_t s4_before = backends.Requests(18114);

  auto exit = wrk.Wait(30s);
  REQUIRE(exit);
  CHECK(exit->code == 0);
  std::string report = ReadFile(dir / "wrk.out");
  INFO("wrk:\n" << report << "\nhaproxy:\n" << haproxy.log());
  CHECK(SteadyClock::now() - started >= 9s);  // the changes all happened under load
  CHECK_THAT(report, Catch::Contains("requests in"));
  CHECK_THAT(report, !Catch::Contains("Socket errors"));
  CHECK_THAT(report, !Catch::Contains("Non-2xx"));
  CHECK_THAT(report, !Catch::Contains("rror"));

  auto servers = haproxy.Servers();
  CHECK(InRotation(servers) == std::set<std::string>{"s3", "s4"});
  CHECK(servers.size() == 2);
  CHECK(backends.Requests(18112) == s2_requests);  // nothing after its stop
  CHECK(backends.Requests(18114) > s4_before);     // the new replica takes its share
  CHECK(backends.Requests(18113) > 0);
}

TEST_CASE("Runtime errors: a missing backend, missing sockets, deadlines, a rejected reload") {
  TempDir dir;
  HttpBackends backends({18121});
  Loop loop;
  Haproxy haproxy(dir, Config(dir, 18120, {{"s1", 18121}}), loop);

  SECTION("Adding to a backend that does not exist is kNotFound naming it") {
    Status status = loop.Await([&](auto done) {
      AddServer(haproxy.admin(), "nope", ProxyServer{"s9", "127.0.0.1", 18121}, done);
    });
    CHECK(status.code() == StatusCode::kNotFound);
    CHECK_THAT(status.message(), Catch::Contains("nope/s9"));
  }

  SECTION("Draining or removing what does not exist is OK") {
    CHECK(loop.Await([&](auto done) {
                DrainServer(haproxy.admin(), loop.io(), "nope", "s1", In(2s), done);
              })
              .ok());
    CHECK(loop.Await([&](auto done) {
                RemoveServer(haproxy.admin(), loop.io(), "be", "s9", In(2s), done);
              })
              .ok());
    CHECK(loop.Await([&](auto done) {
                RemoveServer(haproxy.admin(), loop.io(), "nope", "s9", In(2s), done);
              })
              .ok());
  }

  SECTION("A socket that does not exist is kUnavailable naming the socket and the command") {
    SocketHaproxyCommands missing(loop.io(), dir / "missing.sock");
    auto answer = loop.Command(missing, "show servers state");
    CHECK(answer.status().code() == StatusCode::kUnavailable);
    CHECK_THAT(answer.status().message(), Catch::Contains(dir / "missing.sock"));
    CHECK_THAT(answer.status().message(), Catch::Contains("show servers state"));
    CHECK(loop.Await([&](auto done) { Reload(missing, loop.io(), In(2s), done); }).code() ==
          StatusCode::kUnavailable);
  }

  SECTION("A socket that never answers is kDeadlineExceeded after the command's deadline") {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::string path = dir / "mute.sock";
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    SocketHaproxyCommands mute(loop.io(), path, 200ms);
    auto began = SteadyClock::now();
    auto answer = loop.Command(mute, "show proc");
    CHECK(answer.status().code() == StatusCode::kDeadlineExceeded);
    CHECK(SteadyClock::now() - began >= 200ms);
    CHECK(SteadyClock::now() - began < 2s);
    ::close(fd);
  }

  SECTION(
      "A drain that outlasts its deadline is kDeadlineExceeded, the server stays drained "
      "and its request still completes") {
    std::future<std::string> slow = std::async(std::launch::async, [] {
      boost::asio::io_context io;
      tcp::socket socket(io);
      socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 18120));
      std::string request = "GET /slow HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
      boost::asio::write(socket, boost::asio::buffer(request));
      std::string response;
      boost::system::error_code ec;
      boost::asio::read(socket, boost::asio::dynamic_buffer(response), ec);
      return response;
    });
    // Until the slow request is in flight.
    for (int i = 0; i < 100; ++i) {
      auto answer = loop.Command(haproxy.admin(), "show servers conn be");
      REQUIRE(answer.ok());
      auto conns = ParseServersConn(*answer);
      REQUIRE(conns.ok());
      if (conns->at("s1").used_cur > 0) break;
      loop.Pause(20ms);
    }
    Status status = loop.Await(
        [&](auto done) { DrainServer(haproxy.admin(), loop.io(), "be", "s1", In(300ms), done); });
    CHECK(status.code() == StatusCode::kDeadlineExceeded);
    CHECK_THAT(status.message(), Catch::Contains("1 connections still in use"));
    CHECK(haproxy.Servers().at("s1").draining());
    CHECK_THAT(slow.get(), Catch::StartsWith("HTTP/1.1 200 OK"));
    // Once it is done, the server is removed at once.
    CHECK(loop.Await([&](auto done) {
                RemoveServer(haproxy.admin(), loop.io(), "be", "s1", In(5s), done);
              })
              .ok());
    CHECK(haproxy.Servers().empty());
  }

  SECTION("A reload with a broken configuration is kFailedPrecondition; the old worker serves") {
    WriteFile(dir / "haproxy.cfg", Config(dir, 18120, {{"s1", 18121}}) + "  no-such-keyword\n");
    Status status =
        loop.Await([&](auto done) { Reload(haproxy.master(), loop.io(), In(10s), done); });
    CHECK(status.code() == StatusCode::kFailedPrecondition);
    CHECK(haproxy.Servers().count("s1") == 1);
  }

  SECTION("A reload that outlasts its deadline is kDeadlineExceeded") {
    Status status =
        loop.Await([&](auto done) { Reload(haproxy.master(), loop.io(), In(1ms), done); });
    CHECK(status.code() == StatusCode::kDeadlineExceeded);
  }
}
