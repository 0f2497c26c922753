// What a spec may expand to: aliases are counted, never expanded, and a spec beyond the
// limits of parser.h is refused at the value where it crosses them.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "agent/spec/parser.h"

namespace zlayer::spec {
namespace {

std::vector<std::string> Formatted(const ParseResult& result) {
  std::vector<std::string> lines;
  for (const Problem& problem : result.problems) lines.push_back(FormatProblem(problem));
  return lines;
}

constexpr std::string_view kHead =
    "version: v1\ndeployment: d\nservices:\n  web:\n    image: {name: x}\n";

// The bomb, smaller: one 100 KiB string named once and repeated 7500 times
// through aliases: 150 KB of text that stands for 750 MB.
std::string AliasBomb() {
  std::string spec(kHead);
  spec += "    env:\n      BIG: &big " + std::string(100 << 10, 'x') + "\n";
  spec += "    command:\n      args: [";
  for (int i = 0; i < 7500; ++i) spec += i == 0 ? "*big" : ", *big";
  spec += "]\n";
  return spec;
}

TEST_CASE("A spec whose aliases expand beyond 4 MiB is refused at the alias that crosses it") {
  ParseResult result = ParseSpec(AliasBomb(), "bomb.yaml", {});
  // env.BIG and 39 aliases stay within 4 MiB; the 40th (args[39]) crosses it.
  CHECK(Formatted(result) ==
        std::vector<std::string>{
            "bomb.yaml:9:248: services.web.command.args[39]: with its aliases expanded, the spec "
            "has more than 4194304 bytes (4 MiB) of text, the most a spec may expand to; stopped "
            "reading"});
  CHECK_FALSE(result.deployment.has_value());
}

TEST_CASE("Nested aliases (a billion laughs) are refused once they pass 200000 values") {
  std::string spec(kHead);
  spec += "    labels:\n      a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level <= 9; ++level) {
    std::string previous = "*a" + std::to_string(level - 1);
    spec += "      a" + std::to_string(level) + ": &a" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) spec += (i == 0 ? "" : ", ") + previous;
    spec += "]\n";
  }
  ParseResult result = ParseSpec(spec, "laughs.yaml", {});
  // a0..a4 hold 123455 values; the first alias of a5 adds 111111 more.
  CHECK(Formatted(result) ==
        std::vector<std::string>{
            "laughs.yaml:12:16: services.web.labels.a5[0]: with its aliases expanded, the spec "
            "has more than 200000 values, the most a spec may expand to; stopped reading"});
}

TEST_CASE("Checking an alias bomb keeps the memory of its text, not of its expansion") {
  std::string spec = AliasBomb();
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ParseResult result = ParseSpec(spec, "bomb.yaml", {});
    ::_exit(result.ok() ? 1 : 0);
  }
  int status = 0;
  struct rusage usage {};
  REQUIRE(::wait4(child, &status, 0, &usage) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // ru_maxrss is in KiB. Expanded, the spec would need 750 MB.
  CHECK(usage.ru_maxrss < 64 * 1024);
}

TEST_CASE("An alias inside the value it names is refused, not followed") {
  std::string spec(kHead);
  spec += "    labels: &self {a: *self}\n";
  CHECK(Formatted(ParseSpec(spec, "self.yaml", {})) ==
        std::vector<std::string>{"self.yaml:6:23: services.web.labels.a: this alias is inside "
                                 "the value it names, which would make that value endless"});
}

TEST_CASE("A value over 128 KiB and a list over 10000 items are refused where they are") {
  std::string big(kHead);
  big += "    labels:\n      note: " + std::string(200000, 'x') + "\n";
  CHECK(Formatted(ParseSpec(big, "big.yaml", {})) ==
        std::vector<std::string>{"big.yaml:7:13: services.web.labels.note: a value of 200000 "
                                 "bytes; a value may have at most 131072 bytes (128 KiB)"});

  std::string long_list(kHead);
  long_list += "    command:\n      args: [a";
  for (int i = 1; i < 10001; ++i) long_list += ",a";
  long_list += "]\n";
  CHECK(Formatted(ParseSpec(long_list, "list.yaml", {})) ==
        std::vector<std::string>{"list.yaml:7:13: services.web.command.args: a list of more than "
                                 "10000 items, the most a list may have"});
}

TEST_CASE("An argument or environment entry over the kernel's 128 KiB is refused") {
  std::string arg(kHead);
  arg += "    command:\n      args: [ok, " + std::string(kMaxExecStringBytes, 'a') + "]\n";
  CHECK(Formatted(ParseSpec(arg, "arg.yaml", {})) ==
        std::vector<std::string>{"arg.yaml:7:18: services.web.command.args[1]: an argument of "
                                 "131072 bytes; the kernel allows at most 131072 (MAX_ARG_STRLEN, "
                                 "128 KiB) per argument, NUL included"});

  std::string env(kHead);
  env += "    env:\n      E: " + std::string(kMaxExecStringBytes - 2, 'v') + "\n";
  CHECK(Formatted(ParseSpec(env, "env.yaml", {})) ==
        std::vector<std::string>{"env.yaml:7:10: services.web.env.E: NAME=value has 131073 bytes "
                                 "with its NUL; the kernel allows at most 131072 (MAX_ARG_STRLEN, "
                                 "128 KiB) per environment entry"});
}

TEST_CASE("Arguments and environment over 1 MiB together are refused at the service") {
  std::string spec(kHead);
  spec += "    env:\n      BIG: &big " + std::string(100 << 10, 'x') + "\n";
  spec += "    command:\n      args: [";
  for (int i = 0; i < 10; ++i) spec += i == 0 ? "*big" : ", *big";
  spec += "]\n";
  // 11 strings of 100 KiB: 1126503 bytes with "BIG=", the NULs and the pointers.
  CHECK(Formatted(ParseSpec(spec, "exec.yaml", {})) ==
        std::vector<std::string>{
            "exec.yaml:4:3: services.web: entrypoint, args and env take 1126503 bytes for exec "
            "(strings, NULs and pointers); at most 1048576 (1 MiB, half of the kernel's usual "
            "ARG_MAX, the rest is for the image's environment)"});
}

}  // namespace
}  // namespace zlayer::spec
