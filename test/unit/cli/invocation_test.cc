#include "cmd/zlayer/invocation.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using zlayer::cli::FlagSpec;
using zlayer::cli::Invocation;
using zlayer::cli::OutputFormat;
using zlayer::cli::ParseFlags;
using zlayer::cli::ParseInvocation;

namespace {

Invocation Parse(std::vector<std::string> args) { return ParseInvocation(args); }

}  // namespace

TEST_CASE("Given flag specs, ParseFlags accepts every spelling of a flag") {
  std::vector<FlagSpec> flags = {
      {"follow", 'f', nullptr, ""}, {"tail", 'n', "N", ""}, {"since", 0, "D", ""}};
  struct Case {
    std::vector<std::string> args;
    std::string tail;
  };
  for (const Case& c : std::vector<Case>{{{"-n", "5", "web"}, "5"},
                                         {{"-n5", "web"}, "5"},
                                         {{"--tail", "5", "web"}, "5"},
                                         {{"--tail=5", "web"}, "5"},
                                         {{"web", "-fn5"}, "5"},
                                         {{"-f", "web", "--tail", "5"}, "5"}}) {
    INFO(c.args.size() << " args, first " << c.args[0]);
    auto parsed = ParseFlags(c.args, flags);
    REQUIRE(parsed.ok());
    REQUIRE(parsed->Value("tail") != nullptr);
    CHECK(*parsed->Value("tail") == c.tail);
    CHECK(parsed->positionals == std::vector<std::string>{"web"});
  }
}

TEST_CASE("ParseFlags reports unknown flags, missing values and values on booleans") {
  std::vector<FlagSpec> flags = {{"wait", 0, nullptr, ""}, {"tail", 'n', "N", ""}};
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{"--bogus"}, "unknown flag --bogus"},
           {{"-x"}, "unknown flag -x"},
           {{"--tail"}, "flag --tail needs a value (N)"},
           {{"-n"}, "flag -n needs a value (N)"},
           {{"--wait=yes"}, "flag --wait takes no value"},
           {{"--wait", "--wait"}, "flag --wait given twice"},
       }) {
    auto parsed = ParseFlags(c.args, flags);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().message() == c.error);
  }
}

TEST_CASE("After `--` every argument is positional, or the rest when rest_after is set") {
  std::vector<FlagSpec> flags = {{"interactive", 'i', nullptr, ""}, {"tty", 't', nullptr, ""}};
  auto plain = ParseFlags({"--", "-weird-file"}, {});
  REQUIRE(plain.ok());
  CHECK(plain->positionals == std::vector<std::string>{"-weird-file"});

  auto exec = ParseFlags({"-it", "web", "--", "sh", "-c", "echo -n hi"}, flags, 1);
  REQUIRE(exec.ok());
  CHECK(exec->Has("interactive"));
  CHECK(exec->Has("tty"));
  CHECK(exec->positionals == std::vector<std::string>{"web"});
  CHECK(exec->rest == std::vector<std::string>{"sh", "-c", "echo -n hi"});

  auto no_dashes = ParseFlags({"web", "ls", "-l"}, flags, 1);
  REQUIRE(no_dashes.ok());
  CHECK(no_dashes->rest == std::vector<std::string>{"ls", "-l"});
}

TEST_CASE("Global options come before the command") {
  auto inv = Parse({"--socket", "/tmp/a.sock", "--timeout=5s", "ps"});
  CHECK(inv.usage_error.empty());
  CHECK(inv.command == "ps");
  CHECK(inv.socket == std::optional<std::string>("/tmp/a.sock"));
  CHECK(inv.timeout == std::optional<std::chrono::nanoseconds>(5s));
}

TEST_CASE("Each command binds its arguments") {
  SECTION("deploy accepts FILE or --spec FILE") {
    for (auto args : {std::vector<std::string>{"deploy", "app.yaml", "--dry-run"},
                      std::vector<std::string>{"deploy", "--spec", "app.yaml", "--dry-run"},
                      std::vector<std::string>{"deploy", "--spec=app.yaml", "--dry-run"}}) {
      auto inv = Parse(args);
      CHECK(inv.usage_error.empty());
      CHECK(inv.file == "app.yaml");
      CHECK(inv.dry_run);
      CHECK_FALSE(inv.wait);
    }
    CHECK(Parse({"deploy", "a.yaml", "--wait"}).wait);
    CHECK_FALSE(Parse({"deploy", "a.yaml", "--wait"}).progress_deadline.has_value());
  }
  SECTION("deploy --wait --timeout bounds the wait for progress") {
    auto inv = Parse({"deploy", "a.yaml", "--wait", "--timeout", "30s"});
    CHECK(inv.usage_error.empty());
    CHECK(inv.progress_deadline == std::optional<std::chrono::nanoseconds>(30s));
    CHECK_FALSE(inv.timeout.has_value());  // not the global option
  }
  SECTION("ps takes DEPLOYMENT or DEPLOYMENT/SERVICE and -o") {
    auto inv = Parse({"ps", "hello/web", "-o", "json"});
    CHECK(inv.usage_error.empty());
    CHECK(inv.deployment == "hello");
    CHECK(inv.service == "web");
    CHECK(inv.output == OutputFormat::kJson);
    CHECK(Parse({"ps"}).output == OutputFormat::kTable);
    CHECK(Parse({"ps", "hello"}).service.empty());
  }
  SECTION("logs") {
    auto inv = Parse({"logs", "-f", "-n", "10", "--since", "5m", "hello-web-0"});
    CHECK(inv.usage_error.empty());
    CHECK(inv.follow);
    CHECK(inv.tail == std::optional<uint32_t>(10));
    CHECK(inv.since == std::optional<std::chrono::nanoseconds>(5min));
    CHECK(inv.target == "hello-web-0");
    CHECK_FALSE(Parse({"logs", "web"}).tail.has_value());
    CHECK(Parse({"logs", "-n", "0", "web"}).tail == std::optional<uint32_t>(0));
  }
  SECTION("delete waits unless --no-wait") {
    CHECK(Parse({"delete", "hello"}).wait);
    CHECK_FALSE(Parse({"delete", "hello", "--no-wait"}).wait);
    CHECK(Parse({"delete", "hello"}).deployment == "hello");
  }
  SECTION("scale") {
    auto inv = Parse({"scale", "hello/web", "3"});
    CHECK(inv.usage_error.empty());
    CHECK(inv.deployment == "hello");
    CHECK(inv.service == "web");
    CHECK(inv.replicas == 3);
  }
  SECTION("image commands are two words, with aliases") {
    auto import = Parse({"image", "import", "img.tar", "--name", "busybox:test"});
    CHECK(import.command == "image import");
    CHECK(import.file == "img.tar");
    CHECK(import.image_name == "busybox:test");
    auto rm = Parse({"image", "rm", "-f", "busybox"});
    CHECK(rm.command == "image rm");
    CHECK(rm.force);
    CHECK(Parse({"image", "ls"}).command == "images");
    CHECK(Parse({"image", "pull", "busybox"}).command == "pull");
  }
  SECTION("exec") {
    auto inv = Parse({"exec", "-i", "-t", "-e", "A=1", "-e", "B=2", "web", "--", "sh", "-c", "x"});
    CHECK(inv.usage_error.empty());
    CHECK(inv.interactive);
    CHECK(inv.tty);
    CHECK(inv.target == "web");
    CHECK(inv.exec_env == std::vector<std::string>{"A=1", "B=2"});
    CHECK(inv.exec_args == std::vector<std::string>{"sh", "-c", "x"});
  }
}

TEST_CASE("Usage errors name the command and what is wrong") {
  struct Case {
    std::vector<std::string> args;
    std::string command;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "", "missing COMMAND"},
           {{"frobnicate"}, "", "unknown command \"frobnicate\""},
           {{"--bogus", "ps"}, "", "unknown flag --bogus"},
           {{"--timeout", "10", "ps"}, "", "--timeout: invalid duration"},
           {{"--timeout", "0", "ps"}, "", "--timeout must be more than 0"},
           {{"--socket"}, "", "flag --socket needs a value (PATH)"},
           {{"image"}, "", "image: missing subcommand"},
           {{"image", "frob"}, "", "unknown command \"image frob\""},
           {{"deploy"}, "deploy", "deploy: missing FILE"},
           {{"deploy", "a.yaml", "--spec", "b.yaml"}, "deploy", "deploy: give the spec FILE once"},
           {{"deploy", "a.yaml", "--dry-run", "--wait"}, "deploy", "deploy: --wait has nothing"},
           {{"validate"}, "validate", "validate: missing FILE"},
           {{"validate", "a", "b"}, "validate", "validate: unexpected argument \"b\""},
           {{"ps", "-o", "yaml"}, "ps", "ps: unknown output format \"yaml\""},
           {{"ps", "a/"}, "ps", "ps: \"a/\": expected DEPLOYMENT/SERVICE"},
           {{"ps", "--frob"}, "ps", "ps: unknown flag --frob"},
           {{"ps", "--socket", "/x"}, "ps", "ps: --socket is a global option: give it before"},
           {{"logs"}, "logs", "logs: missing TARGET"},
           {{"logs", "-n", "-1", "web"}, "logs", "logs: -n: \"-1\" is not a count"},
           {{"logs", "--since", "5", "web"}, "logs", "logs: --since: invalid duration"},
           {{"scale", "hello", "3"}, "scale", "scale: \"hello\": expected DEPLOYMENT/SERVICE"},
           {{"scale", "hello/web"}, "scale", "scale: missing N"},
           {{"scale", "hello/web", "x"}, "scale", "scale: N: \"x\" is not a count"},
           {{"exec", "web"}, "exec", "exec: missing CMD"},
           {{"exec"}, "exec", "exec: missing TARGET"},
           {{"exec", "-e", "novalue", "web", "sh"}, "exec", "exec: -e \"novalue\": expected"},
           {{"deploy", "a.yaml", "--timeout", "30s"}, "deploy", "deploy: --timeout needs --wait"},
           {{"deploy", "a.yaml", "--wait", "--timeout", "0s"},
            "deploy",
            "deploy: --timeout must be more than 0"},
           {{"deploy", "a.yaml", "--wait", "--timeout", "5"},
            "deploy",
            "deploy: --timeout: invalid duration"},
           {{"health", "hello", "extra"}, "health", "health: unexpected argument \"extra\""},
           {{"health", "hello/web"}, "health", "health: \"hello/web\": expected a deployment"},
       }) {
    auto inv = Parse(c.args);
    INFO("args: " << c.args.size() << " error: " << inv.usage_error);
    CHECK(inv.command == c.command);
    CHECK_THAT(inv.usage_error, Catch::StartsWith(c.error));
  }
}

TEST_CASE("--help is recognised globally, per command, and wins over mistakes") {
  CHECK(Parse({"--help"}).help);
  CHECK(Parse({"-h"}).help);
  CHECK(Parse({"help"}).help);
  CHECK(Parse({"help"}).command.empty());
  auto logs = Parse({"logs", "--help"});
  CHECK(logs.help);
  CHECK(logs.command == "logs");
  CHECK(logs.usage_error.empty());
  CHECK(Parse({"logs", "--bogus", "--help"}).help);
  CHECK(Parse({"help", "image", "import"}).command == "image import");
  CHECK(Parse({"image", "import", "-h"}).help);
  CHECK_FALSE(Parse({"help", "frob"}).usage_error.empty());
  CHECK(Parse({"--version"}).version_flag);
}

TEST_CASE("Every command has a synopsis and help that lists its flags") {
  for (const auto& c : zlayer::cli::Commands()) {
    std::string help = zlayer::cli::CommandHelp(c);
    CHECK_THAT(help, Catch::StartsWith(std::string("usage: zlayer ") + c.name));
    for (const auto& f : c.flags) CHECK_THAT(help, Catch::Contains(std::string("--") + f.name));
  }
  std::string global = zlayer::cli::GlobalUsage();
  CHECK_THAT(global, Catch::Contains("Exit codes:"));
  CHECK_THAT(global, Catch::Contains("ZLAYER_SOCKET"));
  CHECK_THAT(global, Catch::Contains("image import"));
}
