// The rendered configuration and maps against the real HAProxy 2.6: routing by
// host and path, wildcards, 404 and 503, forwarded headers, WebSocket, tcp, TLS
// with SNI and HTTP/2, redirects. Backends are small servers in this process.
// Uses 127.0.0.1 ports 18000-18099 only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/ingress/haproxy_config.h"
#include "agent/ingress/route_table.h"
#include "test/support/child_process.h"
#include "test/support/files.h"
#include "test/support/temp_dir.h"
#include "test/support/wait_until.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using zlayer::agent::ingress::BuildProxyState;
using zlayer::agent::ingress::HaproxySettings;
using zlayer::agent::ingress::IngressReplica;
using zlayer::agent::ingress::Listener;
using zlayer::agent::ingress::ProxyState;
using zlayer::agent::ingress::RenderedHaproxy;
using zlayer::agent::ingress::RenderHaproxy;
using zlayer::spec::Deployment;
using zlayer::spec::Endpoint;
using zlayer::spec::Exposure;
using zlayer::spec::Protocol;
using zlayer::testing::ChildProcess;
using zlayer::testing::ReadFile;
using zlayer::testing::Run;
using zlayer::testing::TempDir;
using zlayer::testing::WaitUntil;
using zlayer::testing::WriteFile;

namespace {

constexpr uint16_t kHttpPort = 18080;
constexpr uint16_t kTlsPort = 18443;
constexpr uint16_t kTcpPort = 18022;

int ConnectTo(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until `done(received)` or end of stream / timeout.
std::string ReadUntil(int fd, const std::function<bool(const std::string&)>& done) {
  std::string received;
  char buffer[4096];
  while (!done(received)) {
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    received.append(buffer, static_cast<size_t>(n));
  }
  return received;
}

// A backend on 127.0.0.1:<port>. kHttp answers every request with 200 and a
// body "backend=<name>\n" followed by the request's head as received; a
// WebSocket upgrade gets a 101 and then every byte echoed. kGreeting writes
// "greeting from <name>\n" on accept and closes (a tcp service).
class Backend {
 public:
  enum class Kind { kHttp, kGreeting };

  Backend(std::string name, uint16_t port, Kind kind = Kind::kHttp)
      : name_(std::move(name)), kind_(kind) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    REQUIRE(listen(listen_fd_, 64) == 0);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~Backend() {
    stopping_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    close(listen_fd_);
    std::lock_guard lock(mutex_);
    for (std::thread& connection : connections_) connection.join();
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_) return;
        continue;
      }
      timeval timeout{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      std::lock_guard lock(mutex_);
      connections_.emplace_back([this, fd] {
        Serve(fd);
        close(fd);
      });
    }
  }

  void Serve(int fd) {
    if (kind_ == Kind::kGreeting) {
      SendAll(fd, "greeting from " + name_ + "\n");
      return;
    }
    while (!stopping_) {
      std::string head = ReadUntil(
          fd, [](const std::string& r) { return r.find("\r\n\r\n") != std::string::npos; });
      size_t end = head.find("\r\n\r\n");
      if (end == std::string::npos) return;
      std::string rest = head.substr(end + 4);
      head.resize(end + 2);
      std::string lower = head;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      if (lower.find("upgrade: websocket") != std::string::npos) {
        SendAll(
            fd,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
        if (!rest.empty() && !SendAll(fd, rest)) return;
        char buffer[4096];
        for (;;) {
          ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
          if (n <= 0 || !SendAll(fd, std::string_view(buffer, static_cast<size_t>(n)))) return;
        }
      }
      std::string body = "backend=" + name_ + "\n" + head;
      if (!SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body)) {
        return;
      }
    }
  }

  std::string name_;
  Kind kind_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;  // guards connections_
  std::vector<std::thread> connections_;
};

Endpoint Public(std::string name, Protocol protocol, uint16_t port, std::string host,
                std::string path, uint16_t target_port, bool redirect_http = false) {
  Endpoint endpoint;
  endpoint.name = std::move(name);
  endpoint.protocol = protocol;
  endpoint.port = port;
  endpoint.target_port = target_port;
  if (!host.empty()) endpoint.host = host;
  if (!path.empty()) endpoint.path = path;
  endpoint.expose = Exposure::kPublic;
  endpoint.redirect_http = redirect_http;
  return endpoint;
}

void AddService(Deployment* deployment, std::string name, std::vector<Endpoint> endpoints) {
  zlayer::spec::Service service;
  service.name = name;
  service.endpoints = std::move(endpoints);
  deployment->services[name] = std::move(service);
}

// Two deployments, "shop" and "blog", every replica on 127.0.0.1; the target
// port picks the backend that answers.
std::vector<Deployment> Deployments() {
  Deployment shop;
  shop.name = "shop";
  AddService(&shop, "web",
             {Public("root", Protocol::kHttp, kHttpPort, "shop.test", "", 18001),
              Public("api", Protocol::kHttp, kHttpPort, "shop.test", "/api", 18002),
              Public("apiv1", Protocol::kHttp, kHttpPort, "shop.test", "/api/v1", 18003),
              Public("tls", Protocol::kHttps, kTlsPort, "shop.test", "", 18001, true)});
  AddService(&shop, "ws", {Public("ws", Protocol::kWebsocket, kHttpPort, "", "/ws", 18020)});
  AddService(&shop, "db", {Public("pg", Protocol::kTcp, kTcpPort, "", "", 18021)});
  AddService(&shop, "login",
             {Public("login", Protocol::kHttps, kTlsPort, "login.test", "", 18030, true)});
  AddService(&shop, "empty", {Public("http", Protocol::kHttp, kHttpPort, "empty.test", "", 18031)});
  Deployment blog;
  blog.name = "blog";
  AddService(&blog, "web",
             {Public("http", Protocol::kHttp, kHttpPort, "blog.test", "", 18010),
              Public("tls", Protocol::kHttps, kTlsPort, "blog.test", "", 18010)});
  AddService(&blog, "wild", {Public("http", Protocol::kHttp, kHttpPort, "*.wild.test", "", 18011)});
  AddService(&blog, "special",
             {Public("http", Protocol::kHttp, kHttpPort, "a.wild.test", "/special", 18013)});
  AddService(&blog, "public", {Public("http", Protocol::kHttp, kHttpPort, "", "/public", 18012)});
  return {shop, blog};
}

std::vector<IngressReplica> Replicas() {
  std::vector<IngressReplica> replicas;
  for (const Deployment& deployment : Deployments()) {
    for (const auto& [name, service] : deployment.services) {
      if (name == "empty") continue;  // never ready: its route answers 503
      replicas.push_back(
          {deployment.name + "-" + name + "-0", deployment.name, name, "127.0.0.1", true});
    }
  }
  return replicas;
}

// The state of Deployments(), with port 80's https redirects moved to the
// test's HTTP listener (the ingress only redirects from port 80).
ProxyState TestState() {
  ProxyState state = BuildProxyState(Deployments(), Replicas());
  auto port80 = std::find_if(state.listeners.begin(), state.listeners.end(),
                             [](const Listener& l) { return l.port == 80; });
  REQUIRE(port80 != state.listeners.end());
  auto http = std::find_if(state.listeners.begin(), state.listeners.end(),
                           [](const Listener& l) { return l.port == kHttpPort; });
  REQUIRE(http != state.listeners.end());
  http->https_redirects = port80->https_redirects;
  state.listeners.erase(port80);
  return state;
}

void MakeCertificate(const std::string& dir, const std::string& host) {
  auto made = Run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                   "-subj", "/CN=" + host, "-addext", "subjectAltName=DNS:" + host, "-keyout",
                   dir + "/" + host + ".key", "-out", dir + "/" + host + ".crt"},
                  30s);
  REQUIRE(made.status.exited);
  REQUIRE(made.status.code == 0);
  WriteFile(dir + "/" + host + ".pem",
            ReadFile(dir + "/" + host + ".crt") + ReadFile(dir + "/" + host + ".key"));
}

struct Response {
  int status = 0;
  std::string http_version;
  std::string body;
  std::string location;
};

// curl with the given extra arguments; the status, version and Location come
// from --write-out.
Response Curl(std::vector<std::string> args) {
  std::vector<std::string> argv = {
      "curl", "-sS", "--max-time", "5",
      "-o",   "-",   "-w",         "\n%{http_code} %{http_version} %{redirect_url}"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto run = Run(argv, 10s);
  INFO(run.err);
  Response response;
  size_t last = run.out.rfind('\n');
  REQUIRE(last != std::string::npos);
  response.body = run.out.substr(0, last);
  std::istringstream tail(run.out.substr(last + 1));
  tail >> response.status >> response.http_version >> response.location;
  return response;
}

Response Get(const std::string& host, const std::string& path,
             std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"-H", "Host: " + host,
                                   "http://127.0.0.1:" + std::to_string(kHttpPort) + path};
  args.insert(args.end(), extra.begin(), extra.end());
  return Curl(args);
}

std::string BackendOf(const Response& response) {
  if (!response.body.starts_with("backend=")) return "(" + std::to_string(response.status) + ")";
  return response.body.substr(8, response.body.find('\n') - 8);
}

// The files under a temp dir, the backends, HAProxy in the foreground.
class Ingress {
 public:
  explicit Ingress(bool reverse_route_maps = false) {
    settings_.paths.dir = dir_.path();
    settings_.paths.config_file = dir_ / "haproxy.cfg";
    settings_.paths.admin_socket = dir_ / "admin.sock";
    settings_.paths.maps_dir = dir_ / "maps";
    settings_.paths.crt_list = dir_ / "crt-list.txt";
    settings_.bind_address = "127.0.0.1";
    fs::create_directories(settings_.paths.maps_dir);
    for (const char* host : {"shop.test", "blog.test", "login.test"}) {
      MakeCertificate(dir_.path(), host);
    }
    WriteFile(settings_.paths.crt_list, dir_ / "shop.test.pem shop.test\n" +
                                            dir_ / "blog.test.pem blog.test\n" +
                                            dir_ / "login.test.pem login.test\n");
    RenderedHaproxy rendered = RenderHaproxy(TestState(), settings_);
    WriteFile(settings_.paths.config_file, rendered.config);
    for (const auto& [name, content] : rendered.maps) {
      std::string text = content;
      if (reverse_route_maps && name.starts_with("routes-")) {
        auto lines = zlayer::testing::SplitLines(content);
        std::reverse(lines.begin(), lines.end());
        text.clear();
        for (const std::string& line : lines) text += line + "\n";
      }
      WriteFile(settings_.paths.maps_dir + "/" + name, text);
    }
    auto check = Run({"haproxy", "-c", "-f", settings_.paths.config_file}, 10s);
    INFO(check.out << check.err);
    REQUIRE(check.status.exited);
    REQUIRE(check.status.code == 0);

    const std::pair<const char*, uint16_t> http_backends[] = {
        {"shop-root", 18001},    {"shop-api", 18002},  {"shop-apiv1", 18003},
        {"blog-web", 18010},     {"blog-wild", 18011}, {"blog-public", 18012},
        {"blog-special", 18013}, {"shop-ws", 18020},   {"shop-login", 18030}};
    for (const auto& [name, port] : http_backends) {
      backends_.push_back(std::make_unique<Backend>(name, port));
    }
    backends_.push_back(std::make_unique<Backend>("shop-db", 18021, Backend::Kind::kGreeting));

    haproxy_ = std::make_unique<ChildProcess>(
        zlayer::testing::SpawnOptions{{"haproxy", "-db", "-f", settings_.paths.config_file},
                                      zlayer::testing::CurrentEnvironment(),
                                      dir_ / "haproxy.out",
                                      dir_ / "haproxy.err"});
    bool listening = WaitUntil([] {
      int fd = ConnectTo(kHttpPort);
      if (fd < 0) return false;
      close(fd);
      return true;
    });
    INFO(ReadFile(dir_ / "haproxy.err"));
    REQUIRE(listening);
  }

  std::string Path(std::string_view relative) const { return dir_ / relative; }

 private:
  TempDir dir_;
  HaproxySettings settings_;
  std::vector<std::unique_ptr<Backend>> backends_;
  std::unique_ptr<ChildProcess> haproxy_;
};

}  // namespace

TEST_CASE("Two deployments on one port are told apart by host, case and port ignored") {
  Ingress ingress;
  CHECK(BackendOf(Get("shop.test", "/")) == "shop-root");
  CHECK(BackendOf(Get("blog.test", "/")) == "blog-web");
  CHECK(BackendOf(Get("SHOP.Test:18080", "/api")) == "shop-api");
  CHECK(BackendOf(Get("Blog.TEST:18080", "/anything")) == "blog-web");
}

TEST_CASE("Paths are prefixes on '/' boundaries and the longest one wins") {
  Ingress ingress;
  CHECK(BackendOf(Get("shop.test", "/api")) == "shop-api");
  CHECK(BackendOf(Get("shop.test", "/api/")) == "shop-api");
  CHECK(BackendOf(Get("shop.test", "/api/x?q=1")) == "shop-api");
  CHECK(BackendOf(Get("shop.test", "/apix")) == "shop-root");
  CHECK(BackendOf(Get("shop.test", "/api/v1")) == "shop-apiv1");
  CHECK(BackendOf(Get("shop.test", "/api/v1/users/7")) == "shop-apiv1");
  CHECK(BackendOf(Get("shop.test", "/api/v10")) == "shop-api");
  CHECK(BackendOf(Get("shop.test", "/")) == "shop-root");
  // The path reaches the replica unchanged.
  CHECK_THAT(Get("shop.test", "/api/v1/users/7?x=1&y=%20").body,
             Catch::Contains("GET /api/v1/users/7?x=1&y=%20 HTTP/1.1\r\n"));
}

TEST_CASE("map_beg finds the longest prefix whatever the order of the map file") {
  Ingress ingress(/*reverse_route_maps=*/true);
  CHECK(BackendOf(Get("shop.test", "/api/v1/x")) == "shop-apiv1");
  CHECK(BackendOf(Get("shop.test", "/api/x")) == "shop-api");
  CHECK(BackendOf(Get("shop.test", "/x")) == "shop-root");
}

TEST_CASE("A wildcard host matches names of any depth below it, not the bare domain") {
  Ingress ingress;
  CHECK(BackendOf(Get("x.wild.test", "/")) == "blog-wild");
  CHECK(BackendOf(Get("a.b.c.wild.test", "/y")) == "blog-wild");
  CHECK(BackendOf(Get("X.Wild.Test:18080", "/")) == "blog-wild");
  CHECK(Get("wild.test", "/").status == 404);
  CHECK(Get("xwild.test", "/").status == 404);
  // An exact host routes its own paths and falls back to the wildcard for others.
  CHECK(BackendOf(Get("a.wild.test", "/special/1")) == "blog-special");
  CHECK(BackendOf(Get("a.wild.test", "/other")) == "blog-wild");
}

TEST_CASE("A route without a host serves every host that routes nothing of its own") {
  Ingress ingress;
  CHECK(BackendOf(Get("unknown.test", "/public/x")) == "blog-public");
  CHECK(BackendOf(Get("x.wild.test", "/public")) == "blog-wild");  // the wildcard has "/"
  CHECK(BackendOf(Get("unknown.test", "/ws")) == "shop-ws");
}

TEST_CASE("No route is a 404 and a route without a ready replica a 503, both in JSON") {
  Ingress ingress;
  Response missing = Get("unknown.test", "/nothing");
  CHECK(missing.status == 404);
  CHECK(missing.body == R"({"error":"no route","status":404})");
  Response unavailable = Get("empty.test", "/");
  CHECK(unavailable.status == 503);
  CHECK(unavailable.body == R"({"error":"no ready replica","status":503})");
  Response no_host = Curl({"--http1.0", "-H", "Host:", "http://127.0.0.1:18080/nothing"});
  CHECK(no_host.status == 404);
}

TEST_CASE("The replica sees X-Forwarded-For appended, X-Forwarded-Proto, -Host and X-Real-IP") {
  Ingress ingress;
  std::string head = Get("Shop.test:18080", "/api",
                         {"-H", "X-Forwarded-For: 203.0.113.9", "-H", "X-Real-IP: 6.6.6.6", "-H",
                          "X-Forwarded-Proto: https"})
                         .body;
  INFO(head);
  // HAProxy sends header names in lower case (HTTP/2 style); values are kept.
  CHECK_THAT(head, Catch::Contains("x-forwarded-for: 203.0.113.9, 127.0.0.1\r\n"));
  CHECK_THAT(head, Catch::Contains("x-forwarded-proto: http\r\n"));
  CHECK_THAT(head, Catch::Contains("x-forwarded-host: Shop.test:18080\r\n"));
  CHECK_THAT(head, Catch::Contains("x-real-ip: 127.0.0.1\r\n"));
  CHECK_THAT(head, !Catch::Contains("6.6.6.6"));
  CHECK_THAT(head, !Catch::Contains("proto: https"));
}

TEST_CASE("A WebSocket upgrade passes through and frames flow both ways") {
  Ingress ingress;
  int fd = ConnectTo(kHttpPort);
  REQUIRE(fd >= 0);
  REQUIRE(SendAll(fd,
                  "GET /ws/chat HTTP/1.1\r\nHost: any.test\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n"));
  std::string head =
      ReadUntil(fd, [](const std::string& r) { return r.find("\r\n\r\n") != std::string::npos; });
  CHECK(head.starts_with("HTTP/1.1 101"));
  // A masked text frame "hello" (mask 0x01020304), echoed byte for byte.
  std::string frame = "\x81\x85\x01\x02\x03\x04";
  const std::string text = "hello";
  for (size_t i = 0; i < text.size(); ++i)
    frame.push_back(static_cast<char>(text[i] ^ frame[2 + i % 4]));
  std::string after = head.substr(head.find("\r\n\r\n") + 4);
  REQUIRE(SendAll(fd, frame));
  std::string echoed = after + ReadUntil(fd, [&](const std::string& r) {
                         return after.size() + r.size() >= frame.size();
                       });
  CHECK(echoed == frame);
  close(fd);
}

TEST_CASE("A tcp listener forwards the connection to its backend") {
  Ingress ingress;
  int fd = ConnectTo(kTcpPort);
  REQUIRE(fd >= 0);
  std::string greeting =
      ReadUntil(fd, [](const std::string& r) { return r.find('\n') != std::string::npos; });
  CHECK(greeting == "greeting from shop-db\n");
  close(fd);
}

TEST_CASE("TLS picks the certificate by SNI, offers HTTP/2 and forwards plain HTTP") {
  Ingress ingress;
  auto https = [&](const std::string& host, std::vector<std::string> extra) {
    std::vector<std::string> args = {"--cacert", ingress.Path(host + ".crt"), "--resolve",
                                     host + ":" + std::to_string(kTlsPort) + ":127.0.0.1",
                                     "https://" + host + ":" + std::to_string(kTlsPort) + "/api"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Curl(args);
  };
  Response shop = https("shop.test", {"--http2"});
  CHECK(shop.status == 200);
  CHECK(shop.http_version == "2");
  CHECK(BackendOf(shop) == "shop-root");
  CHECK_THAT(shop.body, Catch::Contains("x-forwarded-proto: https\r\n"));
  CHECK_THAT(shop.body, Catch::Contains("HTTP/1.1\r\n"));  // forwarded as HTTP/1.1
  Response blog = https("blog.test", {"--http1.1"});
  CHECK(blog.status == 200);
  CHECK(blog.http_version == "1.1");
  CHECK(BackendOf(blog) == "blog-web");
  // The blog's certificate does not verify shop.test: SNI chose another one.
  auto wrong = Run({"curl", "-sS", "--max-time", "5", "--cacert", ingress.Path("blog.test.crt"),
                    "--resolve", "shop.test:18443:127.0.0.1", "https://shop.test:18443/"},
                   10s);
  CHECK(wrong.status.code != 0);
}

TEST_CASE("An https endpoint asking for it is redirected to from HTTP, unless a route exists") {
  Ingress ingress;
  Response login = Get("Login.test:18080", "/x/y?z=1");
  CHECK(login.status == 308);
  CHECK(login.location == "https://login.test:18443/x/y?z=1");
  CHECK(BackendOf(Get("shop.test", "/")) == "shop-root");  // the http route wins
}

TEST_CASE("haproxy -c accepts the rendered configuration without listeners and on all addresses") {
  TempDir dir;
  HaproxySettings settings;
  settings.paths.admin_socket = dir / "admin.sock";
  settings.paths.maps_dir = dir / "maps";
  settings.paths.crt_list = dir / "crt-list.txt";
  fs::create_directories(settings.paths.maps_dir);
  MakeCertificate(dir.path(), "shop.test");
  WriteFile(settings.paths.crt_list, dir / "shop.test.pem\n");
  for (const ProxyState& state : {ProxyState{}, TestState()}) {
    RenderedHaproxy rendered = RenderHaproxy(state, settings);
    WriteFile(dir / "haproxy.cfg", rendered.config);
    for (const auto& [name, content] : rendered.maps) {
      WriteFile(settings.paths.maps_dir + "/" + name, content);
    }
    auto check = Run({"haproxy", "-c", "-f", dir / "haproxy.cfg"}, 10s);
    INFO(rendered.config << check.out << check.err);
    CHECK(check.status.code == 0);
    CHECK(check.err.find("WARNING") == std::string::npos);
  }
}
