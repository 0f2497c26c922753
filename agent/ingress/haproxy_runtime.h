// HAProxy 2.6's runtime API, from the agent's event loop: one command on a
// unix socket of HAProxy (the worker's stats socket at `level admin`, or the
// master CLI), the parsers of the answers we read, and the sequences that
// change a backend's servers and reload HAProxy without failing a request
// (the recipe of ../shared/reference/proxy-notes.md, checked under load).
//
// Everything is asynchronous on one boost::asio::io_context (the agent's
// loop): nothing here blocks it, and every callback runs on it.
//
// Lifetimes: the HaproxyCommands object and the io_context must outlive every
// sequence started with them (a sequence ends by calling `done`, or when the
// io_context is destroyed, which drops it without calling `done`). A caller
// that may go away before `done` runs captures a weak_ptr (or an alive flag)
// in `done`; the sequences own no state of the caller's.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/ingress/proxy_model.h"
#include "common/status.h"

namespace zlayer::agent::ingress {

// The whole answer to one command, or why there is none.
using AnswerCallback = std::function<void(Result<std::string>)>;

// Runs one command on one unix socket of HAProxy. Abstract so that the
// sequences below and the ingress controller can be tested with a fake.
class HaproxyCommands {
 public:
  virtual ~HaproxyCommands() = default;
  // Sends `command` (one line, without the newline) and calls `done` exactly
  // once, on the loop, never inside Execute itself, with HAProxy's whole
  // answer as it sent it. An answer that reports an error ("No such
  // backend.") is still a value here: AnswerStatus() judges it. Errors are
  // about the transport only (see SocketHaproxyCommands).
  virtual void Execute(std::string command, AnswerCallback done) = 0;
};

// The real one: a new connection to `socket_path` per command, in
// non-interactive mode (the command, a newline, then a half-close, so that the
// master CLI, which would otherwise wait for more, closes too), reading until
// HAProxy closes. Commands run concurrently, each on its own connection.
//
// Errors (each message names the socket and the command):
//   kUnavailable       the socket does not exist or refuses connections
//                      (HAProxy is starting, stopped or re-executing)
//   kDeadlineExceeded  no complete answer within `deadline` of the call
//   kResourceExhausted an answer larger than 16 MiB
//   other codes        the connection failed otherwise (errno's meaning)
//
// Thread safety: call Execute on `loop`'s thread. Commands in flight keep
// themselves alive; destroying this object does not cancel them.
class SocketHaproxyCommands final : public HaproxyCommands {
 public:
  SocketHaproxyCommands(boost::asio::io_context& loop, std::string socket_path,
                        std::chrono::milliseconds deadline = std::chrono::seconds(5));
  void Execute(std::string command, AnswerCallback done) override;

  const std::string& socket_path() const { return socket_path_; }

 private:
  boost::asio::io_context& loop_;
  const std::string socket_path_;
  const std::chrono::milliseconds deadline_;
};

// ---------------------------------------------------------------------------
// Parsers: pure functions of HAProxy's text.

// OK when `answer` is what HAProxy says when `command` succeeded; otherwise an
// error whose message is `haproxy: "<command>": <HAProxy's first line>`:
//   kNotFound           "No such backend.", "No such server.", "Can't find
//                       backend." (the object named does not exist)
//   kAlreadyExists      "Already exists a server with the same name ..."
//   kFailedPrecondition "Server still has connections attached ...", "Only
//                       servers in maintenance mode can be deleted.", a
//                       backend whose balance algorithm is not dynamic
//   kPermissionDenied   "Permission denied" (the socket's level is too low)
//   kInvalidArgument    "Unknown command ...", "Require ...", "invalid ...",
//                       "unknown keyword ..." (we sent something HAProxy
//                       does not take)
//   kUnavailable        an empty answer to a `show` command (the master CLI
//                       while HAProxy re-executes answers nothing)
//   kInternal           any other text
// Success looks like this: `show ...` answers start with '#' ("show servers
// state" with its format version line "1" first); `add server` says "New
// server registered.", `del server` "Server deleted.", and the other commands
// we send (`enable server`, `set server`, `shutdown sessions`, `reload`) answer
// nothing but blank lines.
Status AnswerStatus(std::string_view command, std::string_view answer);

// One line of `show servers conn <backend>`.
struct ServerConnections {
  std::string address;  // "127.0.0.1"; "-" when it has none
  uint16_t port = 0;
  int64_t used_cur = 0;  // connections in use right now (idle ones are not counted)
  bool operator==(const ServerConnections&) const = default;
};

// Parses the answer to `show servers conn <backend>` (a header naming the
// columns, then one line per server "<backend>/<server> ..."), keyed by the
// server's name without the backend. Columns are found by their names in the
// header. kInvalidArgument when the header lacks a column we need or a line is
// malformed; an error answer is AnswerStatus's error.
Result<std::map<std::string, ServerConnections>> ParseServersConn(std::string_view answer);

// One line of `show servers state [<backend>]`.
struct ServerState {
  std::string backend;
  std::string name;
  std::string address;
  uint16_t port = 0;
  int op_state = 0;     // 0 stopped, 1 starting, 2 running, 3 stopping
  int admin_state = 0;  // HAProxy's SRV_ADMF_* bits
  // Forced or inherited maintenance (or disabled in the configuration).
  bool maintenance() const { return (admin_state & 0x27) != 0; }
  bool draining() const { return (admin_state & 0x18) != 0; }
  // Takes new requests: running, neither in maintenance nor draining.
  bool in_rotation() const { return op_state == 2 && !maintenance() && !draining(); }
  bool operator==(const ServerState&) const = default;
};

// Parses the answer to `show servers state [<backend>]` (format version 1),
// in HAProxy's order. Errors as ParseServersConn.
Result<std::vector<ServerState>> ParseServersState(std::string_view answer);

// The master CLI's `show proc`.
struct HaproxyProcess {
  int pid = 0;
  int reloads = 0;  // a worker: how many reloads it has lived through
  bool operator==(const HaproxyProcess&) const = default;
};
struct ProcessList {
  int master_pid = 0;
  int master_reloads = 0;                   // reloads since the start, failed ones included
  int failed_reloads = 0;                   // failed reloads since the last successful one
  std::vector<HaproxyProcess> workers;      // "# workers": the current one(s)
  std::vector<HaproxyProcess> old_workers;  // "# old workers": finishing their connections
  bool operator==(const ProcessList&) const = default;
};

// Parses `show proc`. kUnavailable for an empty answer (the master is
// re-executing), kInvalidArgument when there is no master line.
Result<ProcessList> ParseShowProc(std::string_view answer);

// ---------------------------------------------------------------------------
// Sequences. Each calls `done` exactly once, on the loop (never inside the
// call itself when `commands` keeps its own contract). Errors from
// `commands` and AnswerStatus are passed on, wrapped with the operation and
// the server ("add server shop-web/shop-web-0: ...").

// How often DrainServer and Reload look again.
inline constexpr std::chrono::milliseconds kHaproxyPollInterval{50};

// Puts `server` into `backend` and into rotation:
//   add server <backend>/<name> <address>:<port> pool-max-conn -1 pool-purge-delay 5s
//   enable server <backend>/<name>
// (without the pool options HAProxy does not reuse connections to dynamic
// servers). A server of that name that already exists with the same address
// and port is put back into rotation (`set server ... state ready`: out of
// drain or maintenance) and is OK; with another address it is kAlreadyExists
// (remove it first); deleted between the two looks, kAborted (try again).
// A backend that does not exist is kNotFound. `server.address` must be an IP.
// The change lives in the current worker only: a reload forgets it unless the
// configuration on disk has it too.
void AddServer(HaproxyCommands& commands, std::string backend, ProxyServer server,
               std::function<void(Status)> done);

// Takes `server` out of rotation (`set server ... state drain`: no new
// request, those in flight finish) and calls `done` once it has no connection
// in use (used_cur 0 in `show servers conn`, looked at every
// kHaproxyPollInterval), OK; or at `deadline`, kDeadlineExceeded naming the
// connections left (the server stays drained). A backend or server that does
// not exist is OK: nothing to drain. Unavailable answers while polling (a
// reload in progress) are retried until the deadline.
void DrainServer(HaproxyCommands& commands, boost::asio::io_context& loop, std::string backend,
                 std::string server, std::chrono::steady_clock::time_point deadline,
                 std::function<void(Status)> done);

// Removes `server` from `backend` without failing a request that finishes
// before `deadline`: DrainServer, then `set server ... state maint`, then
// `del server`. When the drain reaches `deadline`, the sessions left are cut
// (`shutdown sessions server`; the replica is about to stop anyway) and the
// server is still deleted. `del server` refused because connections are still
// attached (idle ones being closed) is retried every kHaproxyPollInterval
// until max(deadline, now) + 2 s. OK once the server is gone, including
// when it, or its backend, did not exist.
//
// After a reload, the stats socket is the new worker's: workers of previous
// configurations (Reload's "old workers", finishing their connections) still
// hold the server and are not drained by this. Stop the replica once they
// have exited (`show proc` lists no old worker), or within hard-stop-after.
void RemoveServer(HaproxyCommands& commands, boost::asio::io_context& loop, std::string backend,
                  std::string server, std::chrono::steady_clock::time_point deadline,
                  std::function<void(Status)> done);

// Reloads HAProxy through its master CLI (`master`) and calls `done` once the
// new worker runs: reads `show proc`, sends `reload`, then reads `show proc`
// every kHaproxyPollInterval until the master has reloaded (its reload count
// grew), a worker that was not there before is the current one and none of
// the previous workers is current any more (each has exited or is listed
// under old workers, finishing its connections). Errors:
//   kUnavailable        the master socket is missing or refuses connections
//                       before the reload was sent
//   kFailedPrecondition HAProxy rejected the new configuration (its failed
//                       reload count grew); the previous worker keeps serving
//   kDeadlineExceeded   no new worker by `deadline`
void Reload(HaproxyCommands& master, boost::asio::io_context& loop,
            std::chrono::steady_clock::time_point deadline, std::function<void(Status)> done);

}  // namespace zlayer::agent::ingress
