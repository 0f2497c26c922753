#include "supervisor/init_main.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/log.h"
#include "supervisor/command_line.h"
#include "supervisor/containerd_config.h"
#include "supervisor/dnsmasq_command.h"
#include "supervisor/haproxy_command.h"
#include "supervisor/pass_through.h"
#include "supervisor/preflight.h"
#include "supervisor/spawn.h"
#include "supervisor/supervisor.h"

namespace zlayer::init {
namespace {

// Exit codes other than a child's own.
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

std::string EnvOr(const Environment& env, const char* name, const std::string& fallback) {
  auto it = env.find(name);
  return it == env.end() || it->second.empty() ? fallback : it->second;
}

// The environment children inherit: ours, minus what a supervisor above us
// (systemd) meant for zlayer-init alone.
Environment ChildBaseEnvironment(const Environment& env) {
  Environment base = env;
  for (const char* name : {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS",
                           "LISTEN_PID", "LISTEN_FDNAMES"}) {
    base.erase(name);
  }
  return base;
}

Status WriteTextFile(const std::string& path, const std::string& text) {
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << text;
    if (!out) return ErrnoError("write " + temp);
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) return ErrnoError("rename to " + path);
  return Status::Ok();
}

}  // namespace

int InitMain(const std::vector<std::string>& args, const Environment& env,
             const sigset_t& original_mask) {
  Logger log("zlayer-init");
  auto command = ParseCommandLine(args);
  if (!command.ok()) {
    log.Error("{} (see zlayer-init --help)", command.status().message());
    return kExitUsage;
  }
  if (command->kind == Command::Kind::kHelp) {
    std::fputs(UsageText().c_str(), stdout);
    return 0;
  }
  if (command->kind == Command::Kind::kJoin) {
    log.Error("join: joining a cluster is not supported yet; run a single node with `serve`");
    return kExitFailure;
  }

  auto config = LoadNodeConfig(env);
  if (!config.ok()) {
    log.Error("{}", config.status().message());
    return kExitFailure;
  }
  log.set_level(config->log_level);
  for (const std::string& name : UnknownZlayerVariables(env)) {
    log.Warn("unknown variable {} ignored (a typo?)", name);
  }

  if (::getpid() != 1) {
    // Orphans of our children are reparented to us, as they would be to PID 1.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
      log.Warn("cannot become a child subreaper: {}", std::strerror(errno));
    } else {
      log.Info("not PID 1 (pid {}): running as a child subreaper", ::getpid());
    }
  }

  const std::string self_dir = SelfDirectory();
  const std::string path_env =
      EnvOr(env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  auto resolve = [&](const std::string& configured, const std::string& beside_us) {
    return ResolveProgram(configured.empty() ? self_dir + "/" + beside_us : configured, path_env);
  };

  auto cli = resolve(config->cli_bin, "zlayer");
  if (command->kind == Command::Kind::kPassThrough) {
    if (!cli.ok()) {
      log.Error("{}", cli.status().message());
      return ExitCodeForStartFailure(cli.status());
    }
    std::vector<std::string> argv = {*cli};
    argv.insert(argv.end(), command->arguments.begin(), command->arguments.end());
    return RunPassThrough(*cli, argv, env, original_mask, log);
  }

  // serve / deploy: every program must be there before anything starts.
  auto containerd = ResolveProgram(config->containerd_bin, path_env);
  auto agent = resolve(config->agent_bin, "zlayer-agent");
  for (const auto* program : {&containerd, &agent}) {
    if (!program->ok()) {
      log.Error("{}", program->status().message());
      return ExitCodeForStartFailure(program->status());
    }
  }
  std::optional<std::string> deploy_spec;
  if (command->kind == Command::Kind::kDeploy) {
    if (!cli.ok()) {
      log.Error("{}", cli.status().message());
      return ExitCodeForStartFailure(cli.status());
    }
    if (::access(command->spec_file.c_str(), R_OK) != 0) {
      log.Error("deploy: cannot read {}: {}", command->spec_file, std::strerror(errno));
      return kExitFailure;
    }
    deploy_spec = command->spec_file;
  }

  // The DNS server is no reason to refuse to start: without it, containers
  // run and only their names do not resolve (it is retried with back-off).
  auto dnsmasq_program = ResolveProgram(config->dnsmasq_bin, path_env);
  if (!dnsmasq_program.ok()) {
    log.Warn("{}; containers' names will not resolve until it can be started",
             dnsmasq_program.status().message());
  }
  auto dnsmasq =
      DnsmasqCommandFor(*config, dnsmasq_program.ok() ? *dnsmasq_program : config->dnsmasq_bin);
  if (!dnsmasq.ok()) {
    log.Error("{}", dnsmasq.status().message());
    return kExitFailure;
  }

  // Nor is the ingress proxy: without it, only the public endpoints do not answer.
  auto haproxy_program = ResolveProgram(config->haproxy_bin, path_env);
  if (!haproxy_program.ok()) {
    log.Warn("{}; public endpoints will not answer until haproxy can be started",
             haproxy_program.status().message());
  }
  const IngressPaths ingress = IngressPathsFor(*config);

  auto snapshotter = RunPreflight(*config, log);
  if (!snapshotter.ok()) {
    log.Error("{}", snapshotter.status().message());
    return kExitFailure;
  }

  std::error_code ec;
  for (const std::string& dir : {config->run_dir, config->data_dir, dnsmasq->hosts_dir, ingress.dir,
                                 ingress.maps_dir, ingress.certs_dir}) {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      log.Error("create {}: {}", dir, ec.message());
      return kExitFailure;
    }
  }
  if (Status s = WriteTextFile(config->run_dir + "/containerd.toml",
                               RenderContainerdConfig(*config, *snapshotter));
      !s.ok()) {
    log.Error("{}", s.message());
    return kExitFailure;
  }
  // HAProxy starts before the agent has written anything; the agent's file,
  // once there, is never replaced.
  if (auto wrote = WriteHaproxyBootstrapConfigIfAbsent(ingress); !wrote.ok()) {
    log.Warn("{}; haproxy will not start until the agent writes it", wrote.status().message());
  } else if (*wrote) {
    log.Info("wrote a listener-less haproxy configuration: {}", ingress.config_file);
  }
  std::ofstream(config->run_dir + "/zlayer-init.pid") << ::getpid() << "\n";

  SupervisorOptions options;
  options.config = *config;
  options.child_environment = ChildBaseEnvironment(env);
  options.containerd_program = *containerd;
  options.agent_program = *agent;
  options.cli_program = cli.ok() ? *cli : "";
  options.dnsmasq_argv = DnsmasqArgv(*dnsmasq);
  options.haproxy_argv =
      HaproxyArgv(haproxy_program.ok() ? *haproxy_program : config->haproxy_bin, ingress);
  options.snapshotter = *snapshotter;
  options.deploy_spec = deploy_spec;
  options.child_signal_mask = original_mask;
  Supervisor supervisor(std::move(options), log);
  int code = supervisor.Run();
  ::unlink((config->run_dir + "/zlayer-init.pid").c_str());
  return code;
}

}  // namespace zlayer::init
