#include "agent/ingress/haproxy_runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <memory>
#include <optional>
#include <set>
#include <utility>

namespace zlayer::agent::ingress {

namespace {

using Clock = std::chrono::steady_clock;
using boost::asio::local::stream_protocol;

constexpr size_t kMaxAnswer = 16 << 20;

// ---------------------------------------------------------------------------
// The socket.

struct SocketCommand : std::enable_shared_from_this<SocketCommand> {
  SocketCommand(boost::asio::io_context& loop, std::string path, std::string command,
                AnswerCallback done)
      : socket(loop),
        timer(loop),
        path(std::move(path)),
        command(std::move(command)),
        done(std::move(done)) {}

  void Start(std::chrono::milliseconds deadline) {
    timer.expires_after(deadline);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      self->timed_out = true;
      boost::system::error_code ignored;
      self->socket.close(ignored);  // fails the operation in flight
    });
    socket.async_connect(stream_protocol::endpoint(path),
                         [self = shared_from_this()](const boost::system::error_code& ec) {
                           if (ec) return self->Fail("connect", ec);
                           self->Send();
                         });
  }

  void Send() {
    request = command + "\n";
    boost::asio::async_write(
        socket, boost::asio::buffer(request),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
          if (ec) return self->Fail("write", ec);
          // The master CLI answers, then waits for another
          // command unless it sees the end of ours.
          boost::system::error_code ignored;
          self->socket.shutdown(stream_protocol::socket::shutdown_send, ignored);
          self->Read();
        });
  }

  void Read() {
    socket.async_read_some(
        boost::asio::buffer(chunk),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
          self->answer.append(self->chunk.data(), n);
          if (ec == boost::asio::error::eof) return self->Finish(std::move(self->answer));
          if (ec) return self->Fail("read", ec);
          if (self->answer.size() > kMaxAnswer) {
            return self->Finish(Status(
                StatusCode::kResourceExhausted,
                fmt::format("{}: answer larger than {} bytes", self->Context(), kMaxAnswer)));
          }
          self->Read();
        });
  }

  std::string Context() const { return fmt::format("haproxy socket {}: \"{}\"", path, command); }

  void Fail(std::string_view step, const boost::system::error_code& ec) {
    if (timed_out) {
      return Finish(
          DeadlineExceededError(fmt::format("{}: no answer within the deadline", Context())));
    }
    const int err = ec.value();
    if (step == "connect" &&
        (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR || err == EAGAIN)) {
      return Finish(UnavailableError(fmt::format("{}: connect: {}", Context(), ec.message())));
    }
    Finish(ErrnoError(fmt::format("{}: {}", Context(), step), err));
  }

  void Finish(Result<std::string> result) {
    if (!done) return;
    timer.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
    std::exchange(done, nullptr)(std::move(result));
  }

  stream_protocol::socket socket;
  boost::asio::steady_timer timer;
  const std::string path;
  const std::string command;
  AnswerCallback done;
  std::string request;
  std::string answer;
  std::array<char, 16384> chunk{};
  bool timed_out = false;
};

// ---------------------------------------------------------------------------
// Text.

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

template <typename T>
std::optional<T> Number(std::string_view s) {
  T value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// The columns named in a header line "# a b c", by name.
std::map<std::string, size_t, std::less<>> Columns(std::string_view header) {
  std::map<std::string, size_t, std::less<>> columns;
  std::vector<std::string_view> fields = Fields(header.substr(1));
  for (size_t i = 0; i < fields.size(); ++i) columns.emplace(std::string(fields[i]), i);
  return columns;
}

Result<std::vector<size_t>> Require(const std::map<std::string, size_t, std::less<>>& columns,
                                    std::initializer_list<std::string_view> names,
                                    std::string_view what) {
  std::vector<size_t> indexes;
  for (std::string_view name : names) {
    auto it = columns.find(name);
    if (it == columns.end()) {
      return InvalidArgumentError(fmt::format("{}: no column \"{}\" in the header", what, name));
    }
    indexes.push_back(it->second);
  }
  return indexes;
}

// ---------------------------------------------------------------------------
// Sequences.

std::string ServerId(std::string_view backend, std::string_view server) {
  return fmt::format("{}/{}", backend, server);
}

// Runs `command` and judges its answer.
void Run(HaproxyCommands& commands, std::string command,
         std::function<void(Result<std::string>)> done) {
  std::string copy = command;
  commands.Execute(std::move(copy), [command = std::move(command),
                                     done = std::move(done)](Result<std::string> answer) {
    if (!answer.ok()) return done(answer.status());
    Status status = AnswerStatus(command, *answer);
    if (!status.ok()) return done(status);
    done(std::move(answer));
  });
}

// Calls `then` after kHaproxyPollInterval (or at `deadline`, if sooner).
void After(boost::asio::io_context& loop, Clock::time_point deadline, std::function<void()> then) {
  auto timer = std::make_shared<boost::asio::steady_timer>(
      loop, std::min(Clock::now() + kHaproxyPollInterval, deadline));
  timer->async_wait([timer, then = std::move(then)](const boost::system::error_code&) { then(); });
}

void EnableExisting(HaproxyCommands& commands, const std::string& backend,
                    const ProxyServer& server, std::function<void(Status)> done) {
  std::string id = ServerId(backend, server.name);
  Run(commands, fmt::format("show servers conn {}", backend),
      [&commands, id, backend, server, done = std::move(done)](Result<std::string> answer) {
        if (!answer.ok()) return done(answer.status());
        auto servers = ParseServersConn(*answer);
        if (!servers.ok()) return done(servers.status());
        auto it = servers->find(server.name);
        if (it == servers->end()) {
          // Deleted between our add and our look: add it again, once.
          return done(Status(StatusCode::kAborted, "it disappeared while being added"));
        }
        if (it->second.address != server.address || it->second.port != server.port) {
          return done(AlreadyExistsError(fmt::format("it exists with address {}:{}, not {}:{}",
                                                     it->second.address, it->second.port,
                                                     server.address, server.port)));
        }
        Run(commands, fmt::format("set server {} state ready", id),
            [done](Result<std::string> answer) { done(answer.status()); });
      });
}

// Calls `done` with the outcome and whether the server (or its backend) does not exist.
struct Drain : std::enable_shared_from_this<Drain> {
  Drain(HaproxyCommands& commands, boost::asio::io_context& loop, std::string backend,
        std::string server, Clock::time_point deadline, std::function<void(Status, bool)> done)
      : commands(commands),
        loop(loop),
        backend(std::move(backend)),
        server(std::move(server)),
        deadline(deadline),
        done(std::move(done)) {}

  void Start() {
    Run(commands, fmt::format("set server {} state drain", ServerId(backend, server)),
        [self = shared_from_this()](Result<std::string> answer) {
          if (!answer.ok()) {
            if (answer.status().code() == StatusCode::kNotFound) return self->Gone();
            return self->Finish(answer.status());
          }
          self->Poll();
        });
  }

  void Poll() {
    Run(commands, fmt::format("show servers conn {}", backend),
        [self = shared_from_this()](Result<std::string> answer) {
          if (!answer.ok()) {
            if (answer.status().code() == StatusCode::kNotFound) return self->Gone();
            if (answer.status().code() != StatusCode::kUnavailable) {
              return self->Finish(answer.status());
            }
            self->last_error = answer.status().message();
            return self->Again();
          }
          self->last_error.clear();
          auto servers = ParseServersConn(*answer);
          if (!servers.ok()) return self->Finish(servers.status());
          auto it = servers->find(self->server);
          if (it == servers->end()) return self->Gone();
          if (it->second.used_cur == 0) return self->Finish(Status::Ok());
          self->used_cur = it->second.used_cur;
          self->Again();
        });
  }

  void Again() {
    if (Clock::now() >= deadline) {
      std::string left = last_error.empty() ? fmt::format("{} connections still in use", used_cur)
                                            : fmt::format("last look failed: {}", last_error);
      return Finish(DeadlineExceededError(fmt::format("not drained by the deadline ({})", left)));
    }
    After(loop, deadline, [self = shared_from_this()] { self->Poll(); });
  }

  void Gone() { std::exchange(done, nullptr)(Status::Ok(), true); }

  void Finish(Status status) {
    std::exchange(done, nullptr)(
        status.Wrap(fmt::format("drain server {}", ServerId(backend, server))), false);
  }

  HaproxyCommands& commands;
  boost::asio::io_context& loop;
  const std::string backend;
  const std::string server;
  const Clock::time_point deadline;
  std::function<void(Status, bool)> done;
  int64_t used_cur = 0;
  std::string last_error;
};

struct Remove : std::enable_shared_from_this<Remove> {
  Remove(HaproxyCommands& commands, boost::asio::io_context& loop, std::string backend,
         std::string server, Clock::time_point deadline, std::function<void(Status)> done)
      : commands(commands),
        loop(loop),
        backend(std::move(backend)),
        server(std::move(server)),
        id(ServerId(this->backend, this->server)),
        deadline(deadline),
        done(std::move(done)) {}

  void Start() {
    auto drained = [self = shared_from_this()](Status s, bool gone) {
      if (gone) return self->Finish(Status::Ok());
      if (s.code() == StatusCode::kDeadlineExceeded) {
        self->cut = true;
      } else if (!s.ok()) {
        return self->Finish(s);
      }
      self->delete_until = std::max(self->deadline, Clock::now()) + std::chrono::seconds(2);
      self->Maint();
    };
    std::make_shared<Drain>(commands, loop, backend, server, deadline, std::move(drained))->Start();
  }

  void Maint() {
    Run(commands, fmt::format("set server {} state maint", id),
        [self = shared_from_this()](Result<std::string> answer) {
          if (!answer.ok()) return self->Finish(answer.status());
          if (!self->cut) return self->Delete();
          Run(self->commands, fmt::format("shutdown sessions server {}", self->id),
              [self](Result<std::string> answer) {
                if (!answer.ok()) return self->Finish(answer.status());
                self->Delete();
              });
        });
  }

  void Delete() {
    Run(commands, fmt::format("del server {}", id),
        [self = shared_from_this()](Result<std::string> answer) {
          if (answer.ok()) return self->Finish(Status::Ok());
          if (answer.status().code() != StatusCode::kFailedPrecondition ||
              Clock::now() >= self->delete_until) {
            return self->Finish(answer.status());
          }
          After(self->loop, self->delete_until, [self] { self->Delete(); });
        });
  }

  void Finish(Status status) {
    // The server, or its backend, does not exist (any more): nothing to remove.
    if (status.code() == StatusCode::kNotFound) status = Status::Ok();
    std::exchange(done, nullptr)(status.Wrap(fmt::format("remove server {}", id)));
  }

  HaproxyCommands& commands;
  boost::asio::io_context& loop;
  const std::string backend;
  const std::string server;
  const std::string id;
  const Clock::time_point deadline;
  std::function<void(Status)> done;
  Clock::time_point delete_until;
  bool cut = false;
};

struct ReloadOperation : std::enable_shared_from_this<ReloadOperation> {
  ReloadOperation(HaproxyCommands& master, boost::asio::io_context& loop,
                  Clock::time_point deadline, std::function<void(Status)> done)
      : master(master), loop(loop), deadline(deadline), done(std::move(done)) {}

  void Start() {
    Run(master, "show proc", [self = shared_from_this()](Result<std::string> answer) {
      if (!answer.ok()) return self->Finish(answer.status());
      auto before = ParseShowProc(*answer);
      if (!before.ok()) return self->Finish(before.status());
      self->before = std::move(*before);
      self->Send();
    });
  }

  void Send() {
    master.Execute("reload", [self = shared_from_this()](Result<std::string> answer) {
      // The master re-executes itself after reading the command: the connection
      // may end in any way. Only "never reached" means the reload was not sent.
      if (!answer.ok() && answer.status().code() == StatusCode::kUnavailable) {
        return self->Finish(answer.status());
      }
      if (answer.ok()) {
        Status status = AnswerStatus("reload", *answer);
        if (!status.ok()) return self->Finish(status);
      }
      self->Again();
    });
  }

  void Poll() {
    Run(master, "show proc", [self = shared_from_this()](Result<std::string> answer) {
      // The master's socket refuses or answers nothing while it re-executes.
      if (!answer.ok()) {
        self->last_error = answer.status().message();
        return self->Again();
      }
      auto now = ParseShowProc(*answer);
      if (!now.ok()) {
        self->last_error = now.status().message();
        return self->Again();
      }
      Status verdict = self->Judge(*now);
      if (verdict.code() == StatusCode::kUnknown) return self->Again();
      self->Finish(verdict);
    });
  }

  // OK once reloaded, kUnknown while not yet, kFailedPrecondition when the
  // new configuration was rejected.
  Status Judge(const ProcessList& now) const {
    if (now.master_reloads <= before.master_reloads) {
      return Status(StatusCode::kUnknown, "the master has not reloaded yet");
    }
    std::set<int> previous;
    for (const HaproxyProcess& w : before.workers) previous.insert(w.pid);
    bool fresh = std::any_of(now.workers.begin(), now.workers.end(),
                             [&](const HaproxyProcess& w) { return !previous.contains(w.pid); });
    bool stale = std::any_of(now.workers.begin(), now.workers.end(),
                             [&](const HaproxyProcess& w) { return previous.contains(w.pid); });
    if (fresh && !stale) return Status::Ok();
    if (now.failed_reloads > 0 && !fresh) {
      return FailedPreconditionError(
          fmt::format("HAProxy rejected the new configuration ({} failed reloads in a row; "
                      "its log says why); the previous worker keeps serving",
                      now.failed_reloads));
    }
    return Status(StatusCode::kUnknown, "the new worker is not the current one yet");
  }

  void Again() {
    if (Clock::now() >= deadline) {
      return Finish(DeadlineExceededError(
          last_error.empty() ? "no new worker by the deadline"
                             : fmt::format("no new worker by the deadline ({})", last_error)));
    }
    After(loop, deadline, [self = shared_from_this()] { self->Poll(); });
  }

  void Finish(Status status) { std::exchange(done, nullptr)(status.Wrap("reload haproxy")); }

  HaproxyCommands& master;
  boost::asio::io_context& loop;
  const Clock::time_point deadline;
  std::function<void(Status)> done;
  ProcessList before;
  std::string last_error;
};

}  // namespace

// ---------------------------------------------------------------------------

SocketHaproxyCommands::SocketHaproxyCommands(boost::asio::io_context& loop, std::string socket_path,
                                             std::chrono::milliseconds deadline)
    : loop_(loop), socket_path_(std::move(socket_path)), deadline_(deadline) {}

void SocketHaproxyCommands::Execute(std::string command, AnswerCallback done) {
  auto operation =
      std::make_shared<SocketCommand>(loop_, socket_path_, std::move(command), std::move(done));
  operation->Start(deadline_);
}

Status AnswerStatus(std::string_view command, std::string_view answer) {
  std::string_view text = Trim(answer);
  const bool show = StartsWith(command, "show ");
  if (show) {
    if (text.empty()) {
      return UnavailableError(fmt::format("haproxy: \"{}\": empty answer", command));
    }
    if (text.front() == '#' || StartsWith(text, "1\n#")) return Status::Ok();
  } else if (text.empty() || text == "New server registered." || text == "Server deleted.") {
    return Status::Ok();
  }
  std::string_view first = text.substr(0, text.find('\n'));
  std::string message = fmt::format("haproxy: \"{}\": {}", command, first);
  struct Known {
    std::string_view prefix;
    StatusCode code;
  };
  static constexpr Known kKnown[] = {
      {"No such backend", StatusCode::kNotFound},
      {"No such server", StatusCode::kNotFound},
      {"Can't find backend", StatusCode::kNotFound},
      {"Can't find server", StatusCode::kNotFound},
      {"Already exists a server", StatusCode::kAlreadyExists},
      {"Server still has connections", StatusCode::kFailedPrecondition},
      {"Only servers in maintenance mode", StatusCode::kFailedPrecondition},
      {"Backend must use a dynamic load balancing", StatusCode::kFailedPrecondition},
      {"Permission denied", StatusCode::kPermissionDenied},
      {"Unknown command", StatusCode::kInvalidArgument},
      {"Require ", StatusCode::kInvalidArgument},
      {"invalid ", StatusCode::kInvalidArgument},
      {"unknown keyword", StatusCode::kInvalidArgument},
  };
  for (const Known& known : kKnown) {
    if (StartsWith(first, known.prefix)) return Status(known.code, std::move(message));
  }
  return InternalError(std::move(message));
}

Result<std::map<std::string, ServerConnections>> ParseServersConn(std::string_view answer) {
  constexpr std::string_view kWhat = "show servers conn";
  Status status = AnswerStatus(kWhat, answer);
  if (!status.ok()) return status;
  std::vector<std::string_view> lines = Lines(Trim(answer));
  auto columns =
      Require(Columns(lines.front()), {"bkname/svname", "addr", "port", "used_cur"}, kWhat);
  if (!columns.ok()) return columns.status();
  const size_t name = (*columns)[0], addr = (*columns)[1], port = (*columns)[2],
               used = (*columns)[3];
  const size_t needed = std::max({name, addr, port, used}) + 1;
  std::map<std::string, ServerConnections> servers;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string_view> fields = Fields(lines[i]);
    if (fields.empty()) continue;
    size_t slash = fields[name].find('/');
    auto port_number = fields.size() >= needed ? Number<uint16_t>(fields[port]) : std::nullopt;
    auto used_cur = fields.size() >= needed ? Number<int64_t>(fields[used]) : std::nullopt;
    if (slash == std::string_view::npos || !used_cur || (!port_number && fields[addr] != "-")) {
      return InvalidArgumentError(fmt::format("{}: malformed line \"{}\"", kWhat, lines[i]));
    }
    servers[std::string(fields[name].substr(slash + 1))] =
        ServerConnections{std::string(fields[addr]), port_number.value_or(0), *used_cur};
  }
  return servers;
}

Result<std::vector<ServerState>> ParseServersState(std::string_view answer) {
  constexpr std::string_view kWhat = "show servers state";
  Status status = AnswerStatus(kWhat, answer);
  if (!status.ok()) return status;
  std::vector<std::string_view> lines = Lines(Trim(answer));
  size_t header = lines.front().front() == '#' ? 0 : 1;
  if (header >= lines.size() || lines[header].empty() || lines[header].front() != '#') {
    return InvalidArgumentError(fmt::format("{}: no header", kWhat));
  }
  auto columns = Require(
      Columns(lines[header]),
      {"be_name", "srv_name", "srv_addr", "srv_port", "srv_op_state", "srv_admin_state"}, kWhat);
  if (!columns.ok()) return columns.status();
  const std::vector<size_t>& c = *columns;
  const size_t needed = *std::max_element(c.begin(), c.end()) + 1;
  std::vector<ServerState> servers;
  for (size_t i = header + 1; i < lines.size(); ++i) {
    std::vector<std::string_view> fields = Fields(lines[i]);
    if (fields.empty()) continue;
    std::optional<uint16_t> port;
    std::optional<int> op, admin;
    if (fields.size() >= needed) {
      port = Number<uint16_t>(fields[c[3]]);
      op = Number<int>(fields[c[4]]);
      admin = Number<int>(fields[c[5]]);
    }
    if (!port || !op || !admin) {
      return InvalidArgumentError(fmt::format("{}: malformed line \"{}\"", kWhat, lines[i]));
    }
    servers.push_back(ServerState{std::string(fields[c[0]]), std::string(fields[c[1]]),
                                  std::string(fields[c[2]]), *port, *op, *admin});
  }
  return servers;
}

Result<ProcessList> ParseShowProc(std::string_view answer) {
  constexpr std::string_view kWhat = "show proc";
  Status status = AnswerStatus(kWhat, answer);
  if (!status.ok()) return status;
  ProcessList list;
  enum class Section { kNone, kWorkers, kOldWorkers, kOther } section = Section::kNone;
  bool master = false;
  for (std::string_view line : Lines(Trim(answer))) {
    if (line.empty()) continue;
    if (line.front() == '#') {
      std::string_view title = Trim(line.substr(1));
      section = title == "workers"           ? Section::kWorkers
                : title == "old workers"     ? Section::kOldWorkers
                : StartsWith(title, "<PID>") ? Section::kNone
                                             : Section::kOther;
      continue;
    }
    // "<pid> <type> <reloads> [failed: N] <uptime> <version>"
    std::vector<std::string_view> fields = Fields(line);
    auto pid = fields.size() >= 3 ? Number<int>(fields[0]) : std::nullopt;
    auto reloads = fields.size() >= 3 ? Number<int>(fields[2]) : std::nullopt;
    if (!pid || !reloads) {
      return InvalidArgumentError(fmt::format("{}: malformed line \"{}\"", kWhat, line));
    }
    if (fields[1] == "master") {
      master = true;
      list.master_pid = *pid;
      list.master_reloads = *reloads;
      if (fields.size() >= 5 && fields[3] == "[failed:") {
        std::string_view n = fields[4];
        if (!n.empty() && n.back() == ']') n.remove_suffix(1);
        list.failed_reloads = Number<int>(n).value_or(0);
      }
    } else if (fields[1] == "worker" && section == Section::kWorkers) {
      list.workers.push_back({*pid, *reloads});
    } else if (fields[1] == "worker" && section == Section::kOldWorkers) {
      list.old_workers.push_back({*pid, *reloads});
    }
  }
  if (!master) return InvalidArgumentError(fmt::format("{}: no master line", kWhat));
  return list;
}

void AddServer(HaproxyCommands& commands, std::string backend, ProxyServer server,
               std::function<void(Status)> done) {
  std::string id = ServerId(backend, server.name);
  auto finish = [id, done = std::move(done)](Status status) {
    done(status.Wrap(fmt::format("add server {}", id)));
  };
  std::string add = fmt::format("add server {} {}:{} pool-max-conn -1 pool-purge-delay 5s", id,
                                server.address, server.port);
  Run(commands, std::move(add),
      [&commands, id, backend = std::move(backend), server = std::move(server),
       finish = std::move(finish)](Result<std::string> answer) {
        if (answer.ok()) {
          return Run(commands, fmt::format("enable server {}", id),
                     [finish](Result<std::string> answer) { finish(answer.status()); });
        }
        if (answer.status().code() != StatusCode::kAlreadyExists) return finish(answer.status());
        EnableExisting(commands, backend, server, finish);
      });
}

void DrainServer(HaproxyCommands& commands, boost::asio::io_context& loop, std::string backend,
                 std::string server, std::chrono::steady_clock::time_point deadline,
                 std::function<void(Status)> done) {
  std::make_shared<Drain>(commands, loop, std::move(backend), std::move(server), deadline,
                          [done = std::move(done)](Status status, bool) { done(status); })
      ->Start();
}

void RemoveServer(HaproxyCommands& commands, boost::asio::io_context& loop, std::string backend,
                  std::string server, std::chrono::steady_clock::time_point deadline,
                  std::function<void(Status)> done) {
  std::make_shared<Remove>(commands, loop, std::move(backend), std::move(server), deadline,
                           std::move(done))
      ->Start();
}

void Reload(HaproxyCommands& master, boost::asio::io_context& loop,
            std::chrono::steady_clock::time_point deadline, std::function<void(Status)> done) {
  std::make_shared<ReloadOperation>(master, loop, deadline, std::move(done))->Start();
}

}  // namespace zlayer::agent::ingress
