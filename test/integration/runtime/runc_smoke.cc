// Runs a busybox container from BuildRuntimeSpec's output with `runc run` and checks, from
// inside, what the spec promised: the user and groups, hostname and /etc files, clamped
// capabilities and rlimits, each kind of storage, masked paths. Then the same as a
// privileged container, which runc refuses when a capability outside the node's bounding
// set is asked for. Exit 0 pass, 1 fail (also when not root or runc or busybox is missing).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "agent/runtime/etc_files.h"
#include "agent/runtime/node_limits.h"
#include "agent/runtime/runtime_spec.h"
#include "agent/runtime/user.h"

namespace fs = std::filesystem;
using namespace zlayer;

namespace {

constexpr const char* kNamespace = "zlayer-smoke";

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// Runs `command` through the shell; returns its exit status and fills `output`.
int Run(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output->append(buffer, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool Expect(const std::string& output, const std::string& needle) {
  if (output.find(needle) != std::string::npos) return true;
  std::cerr << "FAIL: output lacks \"" << needle << "\"\n";
  return false;
}

// Builds the bundle in `dir` for `service` and runs it; returns runc's output.
Result<std::string> RunContainer(const fs::path& dir, const spec::Service& service,
                                 const std::string& id) {
  fs::path rootfs = dir / "bundle" / "rootfs";
  fs::create_directories(rootfs / "bin");
  fs::copy_file("/bin/busybox", rootfs / "bin" / "busybox", fs::copy_options::skip_existing);
  const std::string passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
  const std::string group = "root:x:0:\nstaff:x:50:app\napp:x:1000:\n";
  WriteFile(rootfs / "etc" / "passwd", passwd);
  WriteFile(rootfs / "etc" / "group", group);

  oci::ImageConfig image;
  image.os = "linux";
  image.architecture = "amd64";
  image.env = {"PATH=/bin"};

  runtime::ReplicaContext ctx;
  ctx.container_id = id;
  ctx.namespace_name = kNamespace;
  ctx.hostname = service.hostname;
  auto caps = runtime::NodeCapabilities();
  if (!caps.ok()) return caps.status();
  ctx.node_capabilities = *caps;
  auto limits = runtime::NodeHardLimits();
  if (!limits.ok()) return limits.status();
  ctx.node_hard_limits = *limits;
  fs::path files = dir / "files";
  WriteFile(files / "hosts", runtime::RenderHostsFile(service.hostname));
  std::ifstream node_resolv("/etc/resolv.conf");
  std::string resolv((std::istreambuf_iterator<char>(node_resolv)), {});
  WriteFile(files / "resolv.conf", runtime::RenderResolvConf(resolv));
  WriteFile(files / "hostname", runtime::RenderHostnameFile(service.hostname));
  ctx.files = {files / "hosts", files / "resolv.conf", files / "hostname"};
  ctx.named_volume_dirs["data"] = runtime::NamedVolumeDir((dir / "data").string(), "data");
  ctx.anonymous_volume_dirs["/cache"] = runtime::AnonymousVolumeDir((dir / "c").string(), "/cache");
  fs::create_directories(ctx.named_volume_dirs["data"]);
  fs::create_directories(ctx.anonymous_volume_dirs["/cache"]);
  // Fresh volume directories belong to root; the process runs as app (1000).
  if (chown(ctx.named_volume_dirs["data"].c_str(), 1000, 1000) != 0 ||
      chown(ctx.anonymous_volume_dirs["/cache"].c_str(), 1000, 1000) != 0) {
    return ErrnoError("chown volume directories");
  }
  fs::create_directories(dir / "ro");
  WriteFile(dir / "ro" / "hello.txt", "read me\n");
  auto user = runtime::ResolveUser(runtime::EffectiveUser(service, image), passwd, group);
  if (!user.ok()) return user.status();
  ctx.user = *user;
  ctx.extra_env = {"ZLAYER_SMOKE=1"};

  auto spec = runtime::BuildRuntimeSpec(service, image, ctx);
  if (!spec.ok()) return spec.status();
  WriteFile(dir / "bundle" / "config.json", spec->dump(2));

  std::string output;
  int status = Run("runc --root " + (dir / "state").string() + " run --bundle " +
                       (dir / "bundle").string() + " " + id + " </dev/null",
                   &output);
  if (status != 0) {
    return InternalError("runc run exited " + std::to_string(status) + ":\n" + output);
  }
  return output;
}

spec::Service SmokeService(const fs::path& dir) {
  spec::Service service;
  service.name = "smoke";
  service.hostname = "smoke-0";
  service.user = "app";
  service.command.entrypoint = std::vector<std::string>{"/bin/busybox", "sh", "-c"};
  service.command.args = std::vector<std::string>{
      "echo id=$(id -u):$(id -g):$(id -G | tr ' ' ,);"
      "echo hostname=$(hostname) file=$(cat /etc/hostname);"
      "grep -q smoke-0 /etc/hosts && echo hosts=ok;"
      "echo nofile=$(ulimit -Sn)/$(ulimit -Hn);"
      "grep CapBnd /proc/self/status;"
      "echo env=$ZLAYER_SMOKE cwd=$(pwd);"
      "echo v > /data/f && echo named=ok;"
      "echo v > /cache/f && echo anonymous=ok;"
      "cat /ro/hello.txt; (echo x > /ro/y) 2>/dev/null || echo bind-ro=ok;"
      "grep -q ' /scratch tmpfs' /proc/mounts && echo tmpfs=ok;"
      "[ -z \"$(cat /proc/kcore 2>/dev/null | head -c1)\" ] && echo masked=ok;"
      "echo memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
      " /sys/fs/cgroup/memory.max 2>/dev/null);"
      "echo pids=$(cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null);"
      "echo done"};
  service.command.workdir = "/data";
  service.cap_add = {"CAP_SYS_RESOURCE", "CAP_NET_ADMIN"};
  service.ulimits["nofile"] = {30000000, 40000000};
  service.resources.cpu = 0.5;
  service.resources.memory_bytes = 64u << 20;
  service.resources.pids_limit = 64;
  service.storage = {
      spec::NamedVolume{"data", "/data", false},
      spec::AnonymousVolume{"/cache"},
      spec::BindMount{(dir / "ro").string(), "/ro", true},
      spec::TmpfsMount{"/scratch", 1u << 20, 0755},
  };
  return service;
}

void RemoveCgroupParents() {
  for (const auto& controller : fs::directory_iterator("/sys/fs/cgroup")) {
    std::error_code ignored;
    fs::remove(controller.path() / kNamespace, ignored);
  }
}

}  // namespace

int main() {
  std::string ignored;
  if (geteuid() != 0 || Run("command -v runc", &ignored) != 0 || !fs::exists("/bin/busybox")) {
    // scripts/test.sh runs as root with runc and busybox-static installed:
    // their absence is a setup error to see, not a reason to skip.
    std::cerr << "runc_smoke: needs root, runc and /bin/busybox (scripts/install-deps.sh)\n";
    return 1;
  }
  char tmpl[] = "/tmp/zl-rs-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  fs::path dir = tmpl;
  bool ok = true;
  std::string id = "smoke-" + std::to_string(getpid());

  auto plain = RunContainer(dir, SmokeService(dir), id);
  if (!plain.ok()) {
    std::cerr << "FAIL: plain container: " << plain.status().message() << "\n";
    ok = false;
  } else {
    std::cout << *plain;
    auto limits = runtime::NodeHardLimits();
    std::string hard = std::to_string(limits->at("RLIMIT_NOFILE"));
    for (const std::string& needle :
         {std::string("id=1000:1000:1000,50"), std::string("hostname=smoke-0 file=smoke-0"),
          std::string("hosts=ok"), "nofile=" + hard + "/" + hard, std::string("env=1 cwd=/data"),
          std::string("named=ok"), std::string("anonymous=ok"), std::string("read me"),
          std::string("bind-ro=ok"), std::string("tmpfs=ok"), std::string("masked=ok"),
          std::string("memory=67108864"), std::string("pids=64"), std::string("done")}) {
      ok = Expect(*plain, needle) && ok;
    }
  }

  spec::Service privileged = SmokeService(dir);
  privileged.privileged = true;
  privileged.user = "0";
  privileged.command.args = std::vector<std::string>{"/bin/busybox id -u; echo privileged=ok"};
  auto result = RunContainer(dir, privileged, id + "-p");
  if (!result.ok()) {
    std::cerr << "FAIL: privileged container: " << result.status().message() << "\n";
    ok = false;
  } else {
    std::cout << *result;
    ok = Expect(*result, "privileged=ok") && ok;
  }

  fs::remove_all(dir);
  RemoveCgroupParents();
  std::cout << (ok ? "PASS\n" : "FAILED\n");
  return ok ? 0 : 1;
}
