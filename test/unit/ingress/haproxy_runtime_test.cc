// The parsers of HAProxy 2.6's runtime answers (texts captured from the real
// haproxy 2.6.12), and the server sequences against a fake that records the
// commands and answers from a script.
#include "agent/ingress/haproxy_runtime.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace zlayer::agent::ingress;
using zlayer::Result;
using zlayer::Status;
using zlayer::StatusCode;

namespace {

constexpr const char* kConnHeader =
    "# bkname/svname bkid/svid addr port - purge_delay used_cur used_max need_est unsafe_nb "
    "safe_nb idle_lim idle_cur idle_per_thr[2]\n";

std::string Conn(const std::string& lines) { return kConnHeader + lines + "\n"; }

constexpr const char* kStateAnswer =
    "1\n"
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
    "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
    "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"
    "3 be 1 s1 127.0.0.1 2 0 1 1 2 1 0 2 0 0 0 0 - 18191 - 0 0 - - 0\n"
    "3 be 2 s2 127.0.0.1 2 8 1 1 0 1 0 2 0 0 0 0 - 18192 - 0 0 - - 0\n"
    "3 be 3 s3 127.0.0.1 0 1 1 1 0 1 0 2 0 0 0 0 - 18193 - 0 0 - - 0\n\n";

constexpr const char* kProcAfterReload =
    "#<PID>          <type>          <reloads>       <uptime>        <version>      \n"
    "26088           master          2 [failed: 0]   0d00h00m09s     2.6.12-1+deb12u4\n"
    "# workers\n"
    "26584           worker          0               0d00h00m01s     2.6.12-1+deb12u4\n"
    "# old workers\n"
    "26251           worker          1               0d00h00m07s     2.6.12-1+deb12u4\n"
    "# programs\n\n";

// Answers commands from a script, in order, on the loop; records them.
class FakeCommands : public HaproxyCommands {
 public:
  explicit FakeCommands(boost::asio::io_context& loop) : loop_(loop) {}

  // The next command gets `answer`.
  void Answer(Result<std::string> answer) { script_.push_back(std::move(answer)); }

  void Execute(std::string command, AnswerCallback done) override {
    sent.push_back(command);
    Result<std::string> answer =
        script_.empty() ? Result<std::string>(Status(StatusCode::kInternal, "unscripted"))
                        : std::move(script_.front());
    if (!script_.empty()) script_.pop_front();
    boost::asio::post(loop_, [done = std::move(done), answer = std::move(answer)]() mutable {
      done(std::move(answer));
    });
  }

  std::vector<std::string> sent;

 private:
  boost::asio::io_context& loop_;
  std::deque<Result<std::string>> script_;
};

struct Outcome {
  std::optional<Status> status;
  std::function<void(Status)> Callback() {
    return [this](Status s) { status = std::move(s); };
  }
};

}  // namespace

TEST_CASE("Answers of success are OK, error texts become codes naming the command") {
  CHECK(AnswerStatus("add server be/s2 127.0.0.1:1", "New server registered.\n\n").ok());
  CHECK(AnswerStatus("del server be/s2", "Server deleted.\n").ok());
  CHECK(AnswerStatus("enable server be/s2", "\n").ok());
  CHECK(AnswerStatus("reload", "").ok());
  CHECK(AnswerStatus("show servers conn be", Conn("")).ok());
  CHECK(AnswerStatus("show servers state", kStateAnswer).ok());

  struct Case {
    const char* answer;
    StatusCode code;
  };
  auto [answer, code] = GENERATE(
      Case{"No such backend.\n", StatusCode::kNotFound},
      Case{"No such server.\n\n", StatusCode::kNotFound},
      Case{"Can't find backend.\n\n", StatusCode::kNotFound},
      Case{"Already exists a server with the same name in backend.\n\n",
           StatusCode::kAlreadyExists},
      Case{"Server still has connections attached to it, cannot remove it.\n",
           StatusCode::kFailedPrecondition},
      Case{"Only servers in maintenance mode can be deleted.\n", StatusCode::kFailedPrecondition},
      Case{"Permission denied\n", StatusCode::kPermissionDenied},
      Case{"Unknown command, but maybe one of the following ones is a better match:\n  add acl\n",
           StatusCode::kInvalidArgument},
      Case{"Require 'backend/server'.\n", StatusCode::kInvalidArgument},
      Case{"invalid port '99999'\n\n", StatusCode::kInvalidArgument},
      Case{"unknown keyword 'bogusopt'.\n\n", StatusCode::kInvalidArgument},
      Case{"Something new.\n", StatusCode::kInternal});
  Status status = AnswerStatus("set server be/s2 state drain", answer);
  CHECK(status.code() == code);
  CHECK_THAT(status.message(), Catch::StartsWith("haproxy: \"set server be/s2 state drain\": "));
  CHECK_THAT(status.message(), !Catch::Contains("\n"));
}

TEST_CASE("An empty answer to a show command means HAProxy is not ready to answer") {
  CHECK(AnswerStatus("show proc", "").code() == StatusCode::kUnavailable);
  CHECK(AnswerStatus("show proc", "Unknown command.\n").code() == StatusCode::kInvalidArgument);
}

TEST_CASE("show servers conn gives each server's address, port and connections in use") {
  auto servers =
      ParseServersConn(Conn("be/s1 3/1 127.0.0.1 18191 - 5000 0 0 0 0 0 -1 0 0 0\n"
                            "be/web-0 3/2 10.1.0.7 8080 - 5000 12 30 0 0 0 -1 4 2 2\n"
                            "be/s3 3/3 - 1 - 0 0 0 0 0 0 0 0"));
  REQUIRE(servers.ok());
  CHECK(servers->size() == 3);
  CHECK(servers->at("s1") == ServerConnections{"127.0.0.1", 18191, 0});
  CHECK(servers->at("web-0") == ServerConnections{"10.1.0.7", 8080, 12});
  CHECK(servers->at("s3").used_cur == 0);
}

TEST_CASE("show servers conn of a backend without servers is an empty map") {
  auto servers = ParseServersConn(Conn(""));
  REQUIRE(servers.ok());
  CHECK(servers->empty());
}

TEST_CASE("show servers conn errors: a missing backend, a missing column, a malformed line") {
  CHECK(ParseServersConn("Can't find backend.\n\n").status().code() == StatusCode::kNotFound);
  CHECK(ParseServersConn("# bkname/svname addr port\nbe/s1 127.0.0.1 1\n").status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(ParseServersConn(Conn("be/s1 3/1 127.0.0.1 18191 - 5000 many 0")).status().code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("show servers state gives each server's backend, address and admin state") {
  auto servers = ParseServersState(kStateAnswer);
  REQUIRE(servers.ok());
  REQUIRE(servers->size() == 3);
  CHECK((*servers)[0] == ServerState{"be", "s1", "127.0.0.1", 18191, 2, 0});
  CHECK((*servers)[0].in_rotation());
  CHECK((*servers)[1].draining());
  CHECK(!(*servers)[1].in_rotation());
  CHECK((*servers)[2].maintenance());
  CHECK(!(*servers)[2].in_rotation());
}

TEST_CASE("show servers state of a missing backend is kNotFound") {
  CHECK(ParseServersState("Can't find backend.\n\n").status().code() == StatusCode::kNotFound);
}

TEST_CASE("show proc gives the master's reload counts and the current and old workers") {
  auto list = ParseShowProc(kProcAfterReload);
  REQUIRE(list.ok());
  CHECK(list->master_pid == 26088);
  CHECK(list->master_reloads == 2);
  CHECK(list->failed_reloads == 0);
  CHECK(list->workers == std::vector<HaproxyProcess>{{26584, 0}});
  CHECK(list->old_workers == std::vector<HaproxyProcess>{{26251, 1}});

  auto failed = ParseShowProc(
      "#<PID>          <type>          <reloads>       <uptime>        <version>      \n"
      "26088           master          3 [failed: 1]   0d00h00m10s     2.6.12-1+deb12u4\n"
      "# workers\n"
      "26584           worker          1               0d00h00m02s     2.6.12-1+deb12u4\n"
      "# programs\n\n");
  REQUIRE(failed.ok());
  CHECK(failed->failed_reloads == 1);
  CHECK(failed->old_workers.empty());
}

TEST_CASE("show proc while the master re-executes (empty) is kUnavailable") {
  CHECK(ParseShowProc("").status().code() == StatusCode::kUnavailable);
  CHECK(ParseShowProc("# workers\n").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Given a new server, AddServer adds it with connection pooling and enables it") {
  boost::asio::io_context loop;
  FakeCommands haproxy(loop);
  haproxy.Answer(std::string("New server registered.\n\n"));
  haproxy.Answer(std::string("\n"));
  Outcome outcome;
  AddServer(haproxy, "be", ProxyServer{"web-0", "10.1.0.7", 8080}, outcome.Callback());
  CHECK(!outcome.status);  // never inside the call
  loop.run();
  REQUIRE(outcome.status);
  CHECK(outcome.status->ok());
  CHECK(haproxy.sent ==
        std::vector<std::string>{"add server be/web-0 10.1.0.7:8080 pool-max-conn -1 "
                                 "pool-purge-delay 5s",
                                 "enable server be/web-0"});
}

TEST_CASE("Given the server exists with the same address, AddServer puts it back in rotation") {
  boost::asio::io_context loop;
  FakeCommands haproxy(loop);
  haproxy.Answer(std::string("Already exists a server with the same name in backend.\n\n"));
  haproxy.Answer(Conn("be/web-0 3/2 10.1.0.7 8080 - 5000 0 0 0 0 0 -1 0 0 0"));
  haproxy.Answer(std::string("\n"));
  Outcome outcome;
  AddServer(haproxy, "be", ProxyServer{"web-0", "10.1.0.7", 8080}, outcome.Callback());
  loop.run();
  REQUIRE(outcome.status);
  CHECK(outcome.status->ok());
  CHECK(haproxy.sent.back() == "set server be/web-0 state ready");
}

TEST_CASE("Given the server exists with another address, AddServer is kAlreadyExists") {
  boost::asio::io_context loop;
  FakeCommands haproxy(loop);
  haproxy.Answer(std::string("Already exists a server with the same name in backend.\n\n"));
  haproxy.Answer(Conn("be/web-0 3/2 10.1.0.9 8080 - 5000 0 0 0 0 0 -1 0 0 0"));
  Outcome outcome;
  AddServer(haproxy, "be", ProxyServer{"web-0", "10.1.0.7", 8080}, outcome.Callback());
  loop.run();
  REQUIRE(outcome.status);
  CHECK(outcome.status->code() == StatusCode::kAlreadyExists);
  CHECK_THAT(outcome.status->message(), Catch::StartsWith("add server be/web-0: "));
  CHECK_THAT(outcome.status->message(), Catch::Contains("10.1.0.9:8080"));
}

TEST_CASE("AddServer to a missing backend is kNotFound naming the backend") {
  boost::asio::io_context loop;
  FakeCommands haproxy(loop);
  haproxy.Answer(std::string("No such backend.\n"));
  Outcome outcome;
  AddServer(haproxy, "nope", ProxyServer{"web-0", "10.1.0.7", 8080}, outcome.Callback());
  loop.run();
  REQUIRE(outcome.status);
  CHECK(outcome.status->code() == StatusCode::kNotFound);
  CHECK_THAT(outcome.status->message(), Catch::Contains("nope/web-0"));
  CHECK_THAT(outcome.status->message(), Catch::Contains("No such backend."));
}

TEST_CASE("DrainServer waits until the server has no connection in use") {
  boost::asio::io_context loop;
  FakeCommands haproxy(loop);
  haproxy.Answer(std::string("\n"));
  haproxy.Answer(Conn("be/web-0 3/2 10.1.0.7 8080 - 5000 3 3 0 0 0 -1 0 0 0"));
  haproxy.Answer(Conn("be/web-0 3/2 10.1.0.7 8080 - 5000 0 3 0 0 0 -1 2 1 1"));
  Outcome outcome;
  DrainServer(haproxy, loop, "be", "web-0",
              std::chrono::steady_clock::now() + std::chrono::seconds(5), outcome.Callback());
  loop.run();
  REQUIRE(outcome.status);
  CHECK(outcome.status->ok());
  CHECK(haproxy.sent == std::vector<std::string>{"set server be/web-0 state drain",
                                                 "show servers conn be", "show servers conn be"});
}

TEST_CASE("DrainServer of a missing server is OK: nothing to drain") {
  boost::asio::io_context loop;
  FakeCommands haproxy(loop);
  haproxy.Answer(std::string("No such server.\n\n"));
  Outcome outcome;
  DrainServer(haproxy, loop, "be", "web-0",
              std::chrono::steady_clock::now() + std::chrono::seconds(5), outcome.Callback());
  loop.run();
  REQUIRE(outcome.status);
  CHECK(outcome.status->ok());
}

TEST_CASE("DrainServer at its deadline is kDeadlineExceeded naming the connections left") {
  boost::asio::io_context loop;
  FakeCommands haproxy(loop);
  haproxy.Answer(std::string("\n"));
  for (int i = 0; i < 100; ++i) {
    haproxy.Answer(Conn("be/web-0 3/2 10.1.0.7 8080 - 5000 3 3 0 0 0 -1 0 0 0"));
  }
  Outcome outcome;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(120);
  DrainServer(haproxy, loop, "be", "web-0", deadline, outcome.Callback());
  loop.run();
  REQUIRE(outcome.status);
  CHECK(outcome.status->code() == StatusCode::kDeadlineExceeded);
  CHECK_THAT(outcome.status->message(), Catch::Contains("drain server be/web-0"));
  CHECK_THAT(outcome.status->message(), Catch::Contains("3 connections still in use"));
  CHECK(std::chrono::steady_clock::now() >= deadline);
  CHECK(haproxy.sent.size() < 10);  // looked every ~50 ms, not in a busy loop
}

TEST_CASE("RemoveServer drains, puts the server in maintenance, then deletes it") {
  boost::asio::io_context loop;
  FakeCommands haproxy(loop);
  haproxy.Answer(std::string("\n"));
  haproxy.Answer(Conn("be/web-0 3/2 10.1.0.7 8080 - 5000 0 0 0 0 0 -1 0 0 0"));
  haproxy.Answer(std::string("\n"));
  haproxy.Answer(std::string("Server still has connections attached to it, cannot remove it.\n"));
  haproxy.Answer(std::string("Server deleted.\n"));
  Outcome outcome;
  RemoveServer(haproxy, loop, "be", "web-0",
               std::chrono::steady_clock::now() + std::chrono::seconds(5), outcome.Callback());
  loop.run();
  REQUIRE(outcome.status);
  CHECK(outcome.status->ok());
  CHECK(haproxy.sent == std::vector<std::string>{"set server be/web-0 state drain",
                                                 "show servers conn be",
                                                 "set server be/web-0 state maint",
                                                 "del server be/web-0", "del server be/web-0"});
}

TEST_CASE("RemoveServer past its deadline cuts the sessions left and still deletes") {
  boost::asio::io_context loop;
  FakeCommands haproxy(loop);
  haproxy.Answer(std::string("\n"));
  haproxy.Answer(Conn("be/web-0 3/2 10.1.0.7 8080 - 5000 1 1 0 0 0 -1 0 0 0"));
  haproxy.Answer(std::string("\n"));
  haproxy.Answer(std::string("\n"));
  haproxy.Answer(std::string("Server deleted.\n"));
  Outcome outcome;
  RemoveServer(haproxy, loop, "be", "web-0", std::chrono::steady_clock::now(), outcome.Callback());
  loop.run();
  REQUIRE(outcome.status);
  CHECK(outcome.status->ok());
  CHECK(haproxy.sent ==
        std::vector<std::string>{"set server be/web-0 state drain", "show servers conn be",
                                 "set server be/web-0 state maint",
                                 "shutdown sessions server be/web-0", "del server be/web-0"});
}

TEST_CASE("RemoveServer of a missing backend is OK") {
  boost::asio::io_context loop;
  FakeCommands haproxy(loop);
  haproxy.Answer(std::string("No such backend.\n\n"));
  Outcome outcome;
  RemoveServer(haproxy, loop, "nope", "web-0",
               std::chrono::steady_clock::now() + std::chrono::seconds(5), outcome.Callback());
  loop.run();
  REQUIRE(outcome.status);
  CHECK(outcome.status->ok());
}

TEST_CASE("Reload waits through the master's re-execution until the new worker is current") {
  boost::asio::io_context loop;
  FakeCommands master(loop);
  master.Answer(std::string(
      "#<PID> <type> <reloads> <uptime> <version>\n"
      "26088 master 1 [failed: 0] 0d00h00m08s 2.6.12\n# workers\n26251 worker 0 0d 2.6.12\n"));
  master.Answer(std::string(""));  // reload: the connection just closes
  master.Answer(Status(StatusCode::kUnavailable, "connect: Connection refused"));
  master.Answer(std::string(""));
  master.Answer(std::string(kProcAfterReload));
  Outcome outcome;
  Reload(master, loop, std::chrono::steady_clock::now() + std::chrono::seconds(5),
         outcome.Callback());
  loop.run();
  REQUIRE(outcome.status);
  CHECK(outcome.status->ok());
  CHECK(master.sent.size() == 5);
  CHECK(master.sent[1] == "reload");
}

TEST_CASE("A reload that HAProxy rejects is kFailedPrecondition") {
  boost::asio::io_context loop;
  FakeCommands master(loop);
  master.Answer(
      std::string("#<PID> <type> <reloads> <uptime> <version>\n"
                  "26088 master 2 [failed: 0] 0d 2.6.12\n# workers\n26584 worker 0 0d 2.6.12\n"));
  master.Answer(std::string(""));
  master.Answer(
      std::string("#<PID> <type> <reloads> <uptime> <version>\n"
                  "26088 master 3 [failed: 1] 0d 2.6.12\n# workers\n26584 worker 1 0d 2.6.12\n"));
  Outcome outcome;
  Reload(master, loop, std::chrono::steady_clock::now() + std::chrono::seconds(5),
         outcome.Callback());
  loop.run();
  REQUIRE(outcome.status);
  CHECK(outcome.status->code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(outcome.status->message(), Catch::StartsWith("reload haproxy: "));
}

TEST_CASE("Reload without a master socket is kUnavailable") {
  boost::asio::io_context loop;
  FakeCommands master(loop);
  master.Answer(Status(StatusCode::kUnavailable, "haproxy socket /x: connect: No such file"));
  Outcome outcome;
  Reload(master, loop, std::chrono::steady_clock::now() + std::chrono::seconds(5),
         outcome.Callback());
  loop.run();
  REQUIRE(outcome.status);
  CHECK(outcome.status->code() == StatusCode::kUnavailable);
}
