// What `zlayer` was asked to do: the command table, the flag parser and the typed result.
//
// Everything here is pure (no I/O, no gRPC), so the whole command line is unit-tested.
// A usage error is a value (Invocation::usage_error), never an exception; the caller
// prints it with the command's usage and exits 2.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace zlayer::cli {

enum class OutputFormat { kTable, kJson };

// A flag of one command. `value_name` is null for a boolean flag.
struct FlagSpec {
  const char* name;        // long name without dashes: "dry-run"
  char short_name;         // 'f', or 0 for none
  const char* value_name;  // "N", "D", "FILE"; nullptr: boolean
  const char* help;
  bool repeatable = false;  // may be given several times (values kept in order)
};

// The flags and positionals of one command line, before their meaning is applied.
struct ParsedArgs {
  // By long name; a boolean flag has one empty value per occurrence.
  std::map<std::string, std::vector<std::string>> flags;
  std::vector<std::string> positionals;
  // Arguments after `--`, or after `rest_after` positionals (see ParseFlags).
  std::vector<std::string> rest;
  bool help = false;  // -h or --help was given

  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  // The last value of `name`, or nullptr when it was not given.
  const std::string* Value(const std::string& name) const;
};

// Parses `args` against `flags`. Flags and positionals may be mixed; `--long VALUE`,
// `--long=VALUE`, `-s VALUE`, `-sVALUE` and bundled booleans (`-it`) are accepted;
// `-h`/`--help` set `help`. With rest_after < 0, `--` ends the flags and what follows
// is positional. With rest_after = N >= 0, once N positionals are seen (or at `--`)
// every further argument goes to `rest` unparsed (`exec TARGET CMD -x`).
// Errors (kInvalidArgument, the text a user sees): "unknown flag --x", "flag --tail
// needs a value (N)", "flag --wait takes no value", "flag --tail given twice".
Result<ParsedArgs> ParseFlags(const std::vector<std::string>& args,
                              const std::vector<FlagSpec>& flags, int rest_after = -1);

// Everything a command may use, typed. Only the fields of `command` are meaningful.
struct Invocation {
  // Global options (before the command).
  std::optional<std::string> socket;                // --socket PATH
  std::optional<std::chrono::nanoseconds> timeout;  // --timeout D (> 0)

  // Canonical command name ("deploy", "image import", ...); empty when none was given.
  std::string command;
  // Print help: of `command`, or the global usage when `command` is empty.
  bool help = false;
  // `zlayer --version`.
  bool version_flag = false;
  // Non-empty: the command line is wrong, e.g. "logs: missing TARGET". The caller
  // prints it and the usage of `command` (global usage when empty) and exits 2.
  std::string usage_error;

  std::string file;                               // deploy, validate, image import
  bool dry_run = false;                           // deploy --dry-run
  bool wait = false;                              // deploy --wait; delete (true unless --no-wait)
  std::optional<std::chrono::nanoseconds> progress_deadline;  // deploy --wait --timeout D
  std::string deployment;  // ps [DEPLOYMENT[/SERVICE]], delete, scale, health
  std::string service;                            // ps DEPLOYMENT/SERVICE, scale
  uint32_t replicas = 0;                          // scale
  std::string target;                             // logs, inspect, exec
  bool follow = false;                            // logs -f
  std::optional<uint32_t> tail;                   // logs -n
  std::optional<std::chrono::nanoseconds> since;  // logs --since
  OutputFormat output = OutputFormat::kTable;     // -o
  std::string reference;                          // pull, image rm
  std::string platform;                           // pull --platform
  bool force = false;                             // image rm --force
  std::string image_name;                         // image import --name
  bool interactive = false;                       // exec -i
  bool tty = false;                               // exec -t
  std::vector<std::string> exec_args;             // exec CMD...
  std::vector<std::string> exec_env;              // exec -e NAME=value
  std::string exec_workdir;                       // exec -w
  std::string exec_user;                          // exec -u
};

// Parses argv[1..]. Never fails: problems are reported in usage_error.
Invocation ParseInvocation(const std::vector<std::string>& args);

// One command of the table.
struct CommandSpec {
  const char* name;      // "image import"
  const char* synopsis;  // "[-i] [-t] TARGET -- CMD..."
  const char* group;     // heading in the global usage
  const char* summary;   // one line
  const char* details;   // paragraph(s) for `COMMAND --help`, may be empty
  std::vector<FlagSpec> flags;
  int rest_after = -1;  // see ParseFlags
  // Applies positionals and flags to `inv`. Errors are usage errors (without the
  // command name, which the caller adds).
  Status (*bind)(const ParsedArgs& args, Invocation& inv);
};

// Every command, in the order the global usage lists them.
const std::vector<CommandSpec>& Commands();

// The spec of a canonical command name, or nullptr.
const CommandSpec* FindCommand(std::string_view name);

// `zlayer --help`: synopsis, commands by group, global options, environment, exit codes.
std::string GlobalUsage();

// `zlayer COMMAND --help`: synopsis, summary, details and flags.
std::string CommandHelp(const CommandSpec& command);

// The one-line synopsis "usage: zlayer logs [-f] [-n N] [--since D] TARGET".
std::string CommandSynopsis(const CommandSpec& command);

// Parses "-o" values: "table" or "json". Error: kInvalidArgument naming the value.
Result<OutputFormat> ParseOutputFormat(std::string_view text);

// Parses a non-negative decimal count that fits 32 bits ("3"; not "-1", "3x", "").
Result<uint32_t> ParseCount(std::string_view text);

}  // namespace zlayer::cli
