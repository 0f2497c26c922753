#include "cmd/zlayer/invocation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/duration.h"

namespace zlayer::cli {

const std::string* ParsedArgs::Value(const std::string& name) const {
  auto it = flags.find(name);
  if (it == flags.end() || it->second.empty()) return nullptr;
  return &it->second.back();
}

namespace {

const FlagSpec* FindLong(const std::vector<FlagSpec>& flags, std::string_view name) {
  for (const FlagSpec& f : flags) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

const FlagSpec* FindShort(const std::vector<FlagSpec>& flags, char c) {
  for (const FlagSpec& f : flags) {
    if (f.short_name != 0 && f.short_name == c) return &f;
  }
  return nullptr;
}

Status AddFlag(ParsedArgs& parsed, const FlagSpec& flag, std::string value) {
  auto& values = parsed.flags[flag.name];
  if (!values.empty() && !flag.repeatable) {
    return InvalidArgumentError(fmt::format("flag --{} given twice", flag.name));
  }
  values.push_back(std::move(value));
  return Status::Ok();
}

}  // namespace

Result<ParsedArgs> ParseFlags(const std::vector<std::string>& args,
                              const std::vector<FlagSpec>& flags, int rest_after) {
  ParsedArgs parsed;
  bool literal = false;  // after `--` (rest_after < 0)
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    bool rest_reached =
        rest_after >= 0 && static_cast<int>(parsed.positionals.size()) >= rest_after;
    if (rest_reached) {
      size_t from = (arg == "--") ? i + 1 : i;
      parsed.rest.assign(args.begin() + static_cast<std::ptrdiff_t>(from), args.end());
      break;
    }
    if (literal || arg == "-" || arg.empty() || arg[0] != '-') {
      parsed.positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      if (rest_after >= 0) {
        parsed.rest.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
        break;
      }
      literal = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      parsed.help = true;
      continue;
    }
    if (arg.rfind("--", 0) == 0) {
      std::string name = arg.substr(2);
      std::optional<std::string> inline_value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name.resize(eq);
      }
      const FlagSpec* flag = FindLong(flags, name);
      if (flag == nullptr) return InvalidArgumentError(fmt::format("unknown flag --{}", name));
      if (flag->value_name == nullptr) {
        if (inline_value) {
          return InvalidArgumentError(fmt::format("flag --{} takes no value", name));
        }
        ZLAYER_RETURN_IF_ERROR(AddFlag(parsed, *flag, ""));
        continue;
      }
      if (!inline_value) {
        if (i + 1 >= args.size()) {
          return InvalidArgumentError(
              fmt::format("flag --{} needs a value ({})", name, flag->value_name));
        }
        inline_value = args[++i];
      }
      ZLAYER_RETURN_IF_ERROR(AddFlag(parsed, *flag, *inline_value));
      continue;
    }
    // One or more short flags: `-f`, `-it`, `-n10`, `-n 10`.
    for (size_t j = 1; j < arg.size(); ++j) {
      const FlagSpec* flag = FindShort(flags, arg[j]);
      if (flag == nullptr) {
        if (arg[j] == 'h') {
          parsed.help = true;
          continue;
        }
        return InvalidArgumentError(fmt::format("unknown flag -{}", arg[j]));
      }
      if (flag->value_name == nullptr) {
        ZLAYER_RETURN_IF_ERROR(AddFlag(parsed, *flag, ""));
        continue;
      }
      std::string value;
      if (j + 1 < arg.size()) {
        value = arg.substr(j + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return InvalidArgumentError(
            fmt::format("flag -{} needs a value ({})", arg[j], flag->value_name));
      }
      ZLAYER_RETURN_IF_ERROR(AddFlag(parsed, *flag, std::move(value)));
      break;
    }
  }
  return parsed;
}

Result<OutputFormat> ParseOutputFormat(std::string_view text) {
  if (text == "table") return OutputFormat::kTable;
  if (text == "json") return OutputFormat::kJson;
  return InvalidArgumentError(
      fmt::format("unknown output format \"{}\" (expected table or json)", text));
}

Result<uint32_t> ParseCount(std::string_view text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return InvalidArgumentError(
        fmt::format("\"{}\" is not a count (expected a whole number >= 0)", text));
  }
  return value;
}

namespace {

// ---- binding helpers ------------------------------------------------------------------

Status ExpectPositionals(const ParsedArgs& args, const std::vector<const char*>& names,
                         size_t required) {
  if (args.positionals.size() < required) {
    return InvalidArgumentError(fmt::format("missing {}", names[args.positionals.size()]));
  }
  if (args.positionals.size() > names.size()) {
    return InvalidArgumentError(
        fmt::format("unexpected argument \"{}\"", args.positionals[names.size()]));
  }
  return Status::Ok();
}

Status BindOutput(const ParsedArgs& args, Invocation& inv) {
  if (const std::string* v = args.Value("output")) {
    auto format = ParseOutputFormat(*v);
    if (!format.ok()) return format.status();
    inv.output = *format;
  }
  return Status::Ok();
}

// "DEPLOYMENT/SERVICE" into its parts; `service_required` makes the service mandatory.
Status SplitServiceRef(std::string_view text, bool service_required, Invocation& inv) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    if (service_required) {
      return InvalidArgumentError(
          fmt::format("\"{}\": expected DEPLOYMENT/SERVICE, e.g. hello/web", text));
    }
    inv.deployment = std::string(text);
    return Status::Ok();
  }
  std::string_view deployment = text.substr(0, slash);
  std::string_view service = text.substr(slash + 1);
  if (deployment.empty() || service.empty() || service.find('/') != std::string_view::npos) {
    return InvalidArgumentError(
        fmt::format("\"{}\": expected DEPLOYMENT/SERVICE, e.g. hello/web", text));
  }
  inv.deployment = std::string(deployment);
  inv.service = std::string(service);
  return Status::Ok();
}

Status BindDeploy(const ParsedArgs& args, Invocation& inv) {
  ZLAYER_RETURN_IF_ERROR(ExpectPositionals(args, {"FILE"}, 0));
  const std::string* spec = args.Value("spec");
  if (spec != nullptr && !args.positionals.empty()) {
    return InvalidArgumentError("give the spec FILE once (either --spec FILE or FILE)");
  }
  if (spec == nullptr && args.positionals.empty()) return InvalidArgumentError("missing FILE");
  inv.file = spec != nullptr ? *spec : args.positionals[0];
  inv.dry_run = args.Has("dry-run");
  inv.wait = args.Has("wait");
  if (inv.dry_run && inv.wait) {
    return InvalidArgumentError("--wait has nothing to wait for with --dry-run");
  }
  if (const std::string* timeout = args.Value("timeout")) {
    if (!inv.wait) return InvalidArgumentError("--timeout needs --wait (it bounds the wait)");
    auto d = ParseDuration(*timeout);
    if (!d.ok()) return d.status().Wrap("--timeout");
    if (d->count() <= 0) return InvalidArgumentError("--timeout must be more than 0");
    inv.progress_deadline = *d;
  }
  return Status::Ok();
}

Status BindValidate(const ParsedArgs& args, Invocation& inv) {
  ZLAYER_RETURN_IF_ERROR(ExpectPositionals(args, {"FILE"}, 1));
  inv.file = args.positionals[0];
  return Status::Ok();
}

Status BindPs(const ParsedArgs& args, Invocation& inv) {
  ZLAYER_RETURN_IF_ERROR(ExpectPositionals(args, {"DEPLOYMENT"}, 0));
  if (!args.positionals.empty()) {
    ZLAYER_RETURN_IF_ERROR(SplitServiceRef(args.positionals[0], false, inv));
  }
  return BindOutput(args, inv);
}

Status BindLogs(const ParsedArgs& args, Invocation& inv) {
  ZLAYER_RETURN_IF_ERROR(ExpectPositionals(args, {"TARGET"}, 1));
  inv.target = args.positionals[0];
  inv.follow = args.Has("follow");
  if (const std::string* n = args.Value("tail")) {
    auto count = ParseCount(*n);
    if (!count.ok()) return count.status().Wrap("-n");
    inv.tail = *count;
  }
  if (const std::string* since = args.Value("since")) {
    auto d = ParseDuration(*since);
    if (!d.ok()) return d.status().Wrap("--since");
    inv.since = *d;
  }
  return Status::Ok();
}

Status BindDelete(const ParsedArgs& args, Invocation& inv) {
  ZLAYER_RETURN_IF_ERROR(ExpectPositionals(args, {"DEPLOYMENT"}, 1));
  inv.deployment = args.positionals[0];
  inv.wait = !args.Has("no-wait");
  return Status::Ok();
}

Status BindOutputOnly(const ParsedArgs& args, Invocation& inv) {
  ZLAYER_RETURN_IF_ERROR(ExpectPositionals(args, {}, 0));
  return BindOutput(args, inv);
}

Status BindHealth(const ParsedArgs& args, Invocation& inv) {
  ZLAYER_RETURN_IF_ERROR(ExpectPositionals(args, {"DEPLOYMENT"}, 0));
  if (!args.positionals.empty()) {
    const std::string& name = args.positionals[0];
    if (name.find('/') != std::string::npos) {
      return InvalidArgumentError(
          fmt::format("\"{}\": expected a deployment name, not DEPLOYMENT/SERVICE", name));
    }
    inv.deployment = name;
  }
  return Status::Ok();
}

Status BindNothing(const ParsedArgs& args, Invocation&) { return ExpectPositionals(args, {}, 0); }

Status BindImageImport(const ParsedArgs& args, Invocation& inv) {
  ZLAYER_RETURN_IF_ERROR(ExpectPositionals(args, {"FILE"}, 1));
  inv.file = args.positionals[0];
  if (const std::string* name = args.Value("name")) inv.image_name = *name;
  return Status::Ok();
}

Status BindImageRm(const ParsedArgs& args, Invocation& inv) {
  ZLAYER_RETURN_IF_ERROR(ExpectPositionals(args, {"REF"}, 1));
  inv.reference = args.positionals[0];
  inv.force = args.Has("force");
  return Status::Ok();
}

Status BindPull(const ParsedArgs& args, Invocation& inv) {
  ZLAYER_RETURN_IF_ERROR(ExpectPositionals(args, {"REF"}, 1));
  inv.reference = args.positionals[0];
  if (const std::string* p = args.Value("platform")) inv.platform = *p;
  return Status::Ok();
}

Status BindScale(const ParsedArgs& args, Invocation& inv) {
  ZLAYER_RETURN_IF_ERROR(ExpectPositionals(args, {"DEPLOYMENT/SERVICE", "N"}, 2));
  ZLAYER_RETURN_IF_ERROR(SplitServiceRef(args.positionals[0], true, inv));
  auto n = ParseCount(args.positionals[1]);
  if (!n.ok()) return n.status().Wrap("N");
  inv.replicas = *n;
  return Status::Ok();
}

Status BindInspect(const ParsedArgs& args, Invocation& inv) {
  ZLAYER_RETURN_IF_ERROR(ExpectPositionals(args, {"TARGET"}, 1));
  inv.target = args.positionals[0];
  return BindOutput(args, inv);
}

Status BindExec(const ParsedArgs& args, Invocation& inv) {
  if (args.positionals.empty()) return InvalidArgumentError("missing TARGET");
  inv.target = args.positionals[0];
  if (args.rest.empty()) return InvalidArgumentError("missing CMD (zlayer exec TARGET -- CMD...)");
  inv.exec_args = args.rest;
  inv.interactive = args.Has("interactive");
  inv.tty = args.Has("tty");
  if (auto it = args.flags.find("env"); it != args.flags.end()) {
    for (const std::string& e : it->second) {
      if (e.find('=') == std::string::npos || e[0] == '=') {
        return InvalidArgumentError(fmt::format("-e \"{}\": expected NAME=value", e));
      }
    }
    inv.exec_env = it->second;
  }
  if (const std::string* w = args.Value("workdir")) inv.exec_workdir = *w;
  if (const std::string* u = args.Value("user")) inv.exec_user = *u;
  return Status::Ok();
}

const FlagSpec kOutputFlag = {"output", 'o', "FORMAT",
                              "table (default) or json (the table's words, numbers, seconds)"};

// Two-word commands also reachable by another spelling.
const std::map<std::string, std::string, std::less<>>& Aliases() {
  static const std::map<std::string, std::string, std::less<>> kAliases = {
      {"image ls", "images"},
      {"image list", "images"},
      {"image pull", "pull"},
      {"image remove", "image rm"},
  };
  return kAliases;
}

}  // namespace

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> kCommands = {
      {"deploy",
       "[--spec] FILE [--dry-run] [--wait [--timeout D]]",
       "Deployments",
       "deploy a spec: validate it here, then make it the deployment's desired state",
       "FILE is validated locally first; every problem is printed as\n"
       "`file:line:col: path: message` and nothing is sent. The agent then validates it\n"
       "again, stores it and converges the node to it. Prints the generation and what\n"
       "happens to each service. With --wait, prints progress until the deployment\n"
       "converged (exit 0) or failed, was superseded or deleted (exit 1). The wait fails\n"
       "as soon as the new generation cannot become ready: a replica failed 3 times\n"
       "without ever being ready, or no replica became ready for D (--timeout, default\n"
       "5m); the reason names the replica, its last exit and its restart count.",
       {{"spec", 0, "FILE", "the spec file (same as the FILE argument)"},
        {"dry-run", 0, nullptr, "validate and show the plan; change nothing"},
        {"wait", 0, nullptr, "stream progress until the deployment finishes"},
        {"timeout", 0, "D", "with --wait: give up after D without progress (default 5m)"}},
       -1,
       BindDeploy},
      {"validate",
       "FILE",
       "Deployments",
       "check a spec file offline (no agent needed)",
       "Prints every problem as `file:line:col: path: message` (exit 1), or\n"
       "\"FILE: valid (deployment D, N services)\" (exit 0).",
       {},
       -1,
       BindValidate},
      {"ps",
       "[DEPLOYMENT[/SERVICE]] [-o table|json]",
       "Deployments",
       "list replicas: state, health, pid, restarts, last exit, uptime",
       "The table has one row per replica. UPTIME shows \"next restart in D\" for a replica\n"
       "in back-off. Deployments that are not converged are explained below the table.\n"
       "-o json prints the same facts for scripts: the table's words (running, healthy,\n"
       "converged), numbers as numbers, durations in seconds, times in RFC 3339 (README).",
       {kOutputFlag},
       -1,
       BindPs},
      {"logs",
       "[-f] [-n N] [--since D] TARGET",
       "Deployments",
       "print the logs of a container, a service or DEPLOYMENT/SERVICE",
       "TARGET is a container id (hello-web-0), DEPLOYMENT/SERVICE or SERVICE. Lines are\n"
       "printed as written; stderr lines go to stderr. Once lines of a second container\n"
       "arrive, each line is prefixed with `CONTAINER | `.",
       {{"follow", 'f', nullptr, "keep printing new lines (until interrupted)"},
        {"tail", 'n', "N", "only the last N lines of each container"},
        {"since", 0, "D", "only lines written in the last D (e.g. 5m)"}},
       -1,
       BindLogs},
      {"exec",
       "[-i] [-t] [-e NAME=value] [-w DIR] [-u USER] TARGET -- CMD...",
       "Deployments",
       "run a process in a running replica",
       "A service TARGET picks its running replica with the lowest index. Exits with the\n"
       "process's exit code (128+N when killed by signal N), or 125 when zlayer itself\n"
       "fails (agent unreachable, no running replica, CMD cannot be executed).\n"
       "SIGINT, SIGTERM and SIGHUP sent to zlayer are forwarded to the process; with -it,\n"
       "keys such as Ctrl-C go to the process's terminal as typed.",
       {{"interactive", 'i', nullptr, "forward stdin to the process"},
        {"tty", 't', nullptr, "allocate a terminal (raw mode, resized with this one)"},
        {"env", 'e', "NAME=value", "extra environment variable (repeatable)", true},
        {"workdir", 'w', "DIR", "working directory inside the container"},
        {"user", 'u', "USER", "user (uid[:gid] or name) inside the container"}},
       1,
       BindExec},
      {"inspect",
       "TARGET [-o table|json]",
       "Deployments",
       "show the resolved container config, health and restart history",
       "TARGET is a container id, DEPLOYMENT/SERVICE or SERVICE.",
       {kOutputFlag},
       -1,
       BindInspect},
      {"scale",
       "DEPLOYMENT/SERVICE N",
       "Deployments",
       "set the replica count of a service",
       "The count is kept until the next deploy of the spec, which sets the spec's count.",
       {},
       -1,
       BindScale},
      {"delete",
       "DEPLOYMENT [--no-wait]",
       "Deployments",
       "remove a deployment and its containers",
       "Waits until every container of the deployment is gone (bounded by --timeout),\n"
       "unless --no-wait.",
       {{"no-wait", 0, nullptr, "return once the desired state is removed"}},
       -1,
       BindDelete},
      {"routes",
       "[-o table|json]",
       "Deployments",
       "list the public listeners, their routes and the replicas behind each",
       "Every port of an `expose: public` endpoint is a listener of the node's proxy.\n"
       "HTTP routes are listed most specific first (exact host, wildcard, any host;\n"
       "longest path), the order they are matched in. REPLICAS names those in rotation,\n"
       "then the others with their state. CERT is the source of an https route's\n"
       "certificate (user, acme, self-signed); a note under the table says why a route\n"
       "serves a self-signed one.",
       {kOutputFlag},
       -1,
       BindOutputOnly},
      {"certs",
       "[-o table|json]",
       "Deployments",
       "list the certificates of the https listeners and ACME's state for each host",
       "One row per host of an https endpoint, and the node's default (served for an\n"
       "unknown name). SOURCE is user (a file in the certs directory, which always wins),\n"
       "acme (obtained by the node when ZLAYER_ACME_EMAIL is set) or self-signed.\n"
       "EXPIRES is the certificate's end of validity. ACME shows what ACME does for the\n"
       "host: obtaining, the next try and the last error after a failure, the renewal,\n"
       "or why it refused the host (a wildcard cannot be validated over HTTP-01).\n"
       "Notes under the table say why a certificate is self-signed.",
       {kOutputFlag},
       -1,
       BindOutputOnly},
      {"images",
       "[-o table|json]",
       "Images",
       "list the node's images",
       "",
       {kOutputFlag},
       -1,
       BindOutputOnly},
      {"image import",
       "FILE [--name NAME]",
       "Images",
       "import an OCI layout or `docker save` tarball that is on the node",
       "The agent opens FILE itself, so it must be readable on the node; a relative FILE\n"
       "is made absolute here.",
       {{"name", 0, "NAME", "register the image under NAME (required if the tarball names none)"}},
       -1,
       BindImageImport},
      {"image rm",
       "REF [--force]",
       "Images",
       "remove an image record",
       "Refused when a deployment uses the image, unless --force.",
       {{"force", 'f', nullptr, "remove even when a deployment uses it"}},
       -1,
       BindImageRm},
      {"pull",
       "REF [--platform OS/ARCH]",
       "Images",
       "pull an image from a registry",
       "Shows a progress bar per layer on a terminal, plain lines otherwise.",
       {{"platform", 0, "OS/ARCH", "platform to pull (default: the node's)"}},
       -1,
       BindPull},
      {"status",
       "[-o table|json]",
       "Node",
       "show the node's configuration and state",
       "",
       {kOutputFlag},
       -1,
       BindOutputOnly},
      {"health",
       "[DEPLOYMENT]",
       "Node",
       "exit 0 when the node (or DEPLOYMENT) is healthy, 1 with the reason when not",
       "Without DEPLOYMENT: the node, meant for Docker's HEALTHCHECK. Healthy when the\n"
       "agent answers, containerd is reachable and no program zlayer-init supervises is\n"
       "down; deployments do not count, so one crash-looping workload does not mark the\n"
       "node unhealthy. Answers in well under a second.\n"
       "With DEPLOYMENT: healthy when it is converged and none of its replicas is failing\n"
       "(back-off, failed, unhealthy); otherwise prints the first failing replica, its\n"
       "state, restarts and last exit.",
       {},
       -1,
       BindHealth},
      {"version",
       "",
       "Node",
       "print the client's and the agent's version",
       "Works without an agent: then it prints the client's version and a note.",
       {},
       -1,
       BindNothing},
  };
  return kCommands;
}

const CommandSpec* FindCommand(std::string_view name) {
  for (const CommandSpec& c : Commands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

Invocation ParseInvocation(const std::vector<std::string>& args) {
  Invocation inv;
  size_t i = 0;
  // Global options, up to the command.
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.empty() || arg[0] != '-') break;
    if (arg == "-h" || arg == "--help") {
      inv.help = true;
      continue;
    }
    if (arg == "--version") {
      inv.version_flag = true;
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (name != "--socket" && name != "--timeout") {
      inv.usage_error = fmt::format("unknown flag {}", name);
      return inv;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        inv.usage_error =
            fmt::format("flag {} needs a value ({})", name, name == "--socket" ? "PATH" : "D");
        return inv;
      }
      value = args[++i];
    }
    if (name == "--socket") {
      if (value->empty()) {
        inv.usage_error = "flag --socket needs a path";
        return inv;
      }
      inv.socket = *value;
    } else {
      auto d = ParseDuration(*value);
      if (!d.ok()) {
        inv.usage_error = "--timeout: " + d.status().message();
        return inv;
      }
      if (d->count() <= 0) {
        inv.usage_error = "--timeout must be more than 0";
        return inv;
      }
      inv.timeout = *d;
    }
  }
  if (i >= args.size()) {
    if (!inv.help && !inv.version_flag) inv.usage_error = "missing COMMAND";
    return inv;
  }

  std::string name = args[i++];
  if (name == "help") {
    inv.help = true;
    if (i < args.size()) {
      std::string topic = args[i];
      if (topic == "image" && i + 1 < args.size()) topic += " " + args[i + 1];
      if (auto alias = Aliases().find(topic); alias != Aliases().end()) topic = alias->second;
      if (FindCommand(topic) == nullptr) {
        inv.usage_error = fmt::format("unknown command \"{}\"", topic);
        return inv;
      }
      inv.command = topic;
    }
    return inv;
  }
  if (name == "image") {
    if (i >= args.size() || args[i].empty() || args[i][0] == '-') {
      if (i < args.size() && (args[i] == "-h" || args[i] == "--help")) {
        inv.help = true;
        return inv;
      }
      inv.usage_error = "image: missing subcommand (import, rm, ls or pull)";
      return inv;
    }
    name += " " + args[i++];
    if (auto alias = Aliases().find(name); alias != Aliases().end()) name = alias->second;
    if (FindCommand(name) == nullptr) {
      inv.usage_error =
          fmt::format("unknown command \"{}\" (image commands: import, rm, ls, pull)", name);
      return inv;
    }
  }
  const CommandSpec* spec = FindCommand(name);
  if (spec == nullptr) {
    inv.usage_error = fmt::format("unknown command \"{}\"", name);
    return inv;
  }
  inv.command = spec->name;

  std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  auto parsed = ParseFlags(rest, spec->flags, spec->rest_after);
  if (!parsed.ok()) {
    // `--help` anywhere wins over a mistake elsewhere on the line.
    if (std::find(rest.begin(), rest.end(), "--help") != rest.end()) {
      inv.help = true;
      return inv;
    }
    std::string message = parsed.status().message();
    for (const char* global : {"--socket", "--timeout"}) {
      if (message.starts_with(fmt::format("unknown flag {}", global))) {
        message =
            fmt::format("{} is a global option: give it before the command (zlayer {} ... {})",
                        global, global, spec->name);
      }
    }
    inv.usage_error = fmt::format("{}: {}", spec->name, message);
    return inv;
  }
  if (parsed->help) {
    inv.help = true;
    return inv;
  }
  Status bound = spec->bind(*parsed, inv);
  if (!bound.ok()) inv.usage_error = fmt::format("{}: {}", spec->name, bound.message());
  return inv;
}

std::string CommandSynopsis(const CommandSpec& command) {
  std::string synopsis = fmt::format("usage: zlayer {}", command.name);
  if (command.synopsis[0] != '\0') synopsis += fmt::format(" {}", command.synopsis);
  return synopsis + "\n";
}

std::string CommandHelp(const CommandSpec& command) {
  std::string text = CommandSynopsis(command);
  std::string summary = command.summary;
  summary[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(summary[0])));
  text += fmt::format("\n{}.\n", summary);
  if (command.details[0] != '\0') text += fmt::format("\n{}\n", command.details);
  if (!command.flags.empty()) {
    text += "\nFlags:\n";
    for (const FlagSpec& f : command.flags) {
      std::string left = f.short_name != 0 ? fmt::format("-{}, --{}", f.short_name, f.name)
                                           : fmt::format("    --{}", f.name);
      if (f.value_name != nullptr) left += fmt::format(" {}", f.value_name);
      text += fmt::format("  {:<28} {}\n", left, f.help);
    }
  }
  text += "\nRun `zlayer --help` for the global options and exit codes.\n";
  return text;
}

std::string GlobalUsage() {
  std::string text =
      "usage: zlayer [--socket PATH] [--timeout D] COMMAND [ARGS...]\n"
      "\n"
      "The command-line client of a zlayer node: it asks zlayer-agent over its API socket.\n";
  std::string group;
  for (const CommandSpec& c : Commands()) {
    if (group != c.group) {
      group = c.group;
      text += fmt::format("\n{}:\n", group);
    }
    text += fmt::format("  {:<14} {}\n", c.name, c.summary);
  }
  text +=
      "\n"
      "Global options (before COMMAND):\n"
      "  --socket PATH  the agent's API socket (default: $ZLAYER_SOCKET, else\n"
      "                 /run/zlayer/agent.sock)\n"
      "  --timeout D    how long to wait for an answer (default 30s). `logs -f`,\n"
      "                 `deploy --wait` and `exec` wait as long as it takes unless\n"
      "                 --timeout is given (`deploy --wait` also ends on its own once\n"
      "                 the deployment cannot become ready, see `deploy --help`);\n"
      "                 `pull` and `image import` give up when no progress arrives for D.\n"
      "  -h, --help     this text; `zlayer COMMAND --help` for a command\n"
      "  --version      print the client's version\n"
      "\n"
      "Environment:\n"
      "  ZLAYER_SOCKET  the agent's API socket (absolute path)\n"
      "\n"
      "Exit codes:\n"
      "  0    success; `health`: the node (or deployment) is healthy; `deploy --wait`:\n"
      "       converged\n"
      "  1    failure: the agent is not reachable or reported an error, the spec is\n"
      "       invalid, `health`: unhealthy, `deploy --wait`: did not converge\n"
      "  2    usage error (unknown command or flag, missing argument)\n"
      "  exec exits with the process's exit code, or 125 when zlayer itself fails\n";
  return text;
}

}  // namespace zlayer::cli
