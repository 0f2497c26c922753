// The whole runtime spec of one replica: shape, mounts, resources, security settings.
#include "agent/runtime/runtime_spec.h"

#include <catch2/catch.hpp>

#include "agent/spec/kernel_names.h"
#include "agent/spec/parser.h"

using nlohmann::json;
using zlayer::StatusCode;
using zlayer::oci::ImageConfig;
using zlayer::runtime::AnonymousVolumeDir;
using zlayer::runtime::BuildRuntimeSpec;
using zlayer::runtime::NamedVolumeDir;
using zlayer::runtime::ReplicaContext;
using zlayer::spec::Service;
using Strings = std::vector<std::string>;

namespace {

Service Busybox() {
  Service service;
  service.name = "web";
  service.hostname = "web";
  service.image.name = "127.0.0.1:5000/busybox:latest";
  service.command.entrypoint = Strings{"/bin/httpd"};
  service.command.args = Strings{"-f", "-p", "8080"};
  return service;
}

ImageConfig BusyboxImage() {
  ImageConfig image;
  image.os = "linux";
  image.architecture = "amd64";
  image.cmd = Strings{"sh"};
  image.env = {"PATH=/bin"};
  return image;
}

ReplicaContext Context() {
  ReplicaContext ctx;
  ctx.container_id = "hello-web-0";
  ctx.namespace_name = "zlayer";
  for (std::string_view capability : zlayer::spec::AllCapabilities()) {
    if (capability != "CAP_SYS_RESOURCE") ctx.node_capabilities.emplace(capability);
  }
  ctx.node_hard_limits = {{"RLIMIT_NOFILE", 20000}};
  ctx.files = {"/data/c/hello-web-0/hosts", "/data/c/hello-web-0/resolv.conf",
               "/data/c/hello-web-0/hostname"};
  ctx.user = {1000, 1000, {1000, 10}};
  return ctx;
}

json Build(const Service& service, const ImageConfig& image = BusyboxImage(),
           const ReplicaContext& ctx = Context()) {
  auto spec = BuildRuntimeSpec(service, image, ctx);
  REQUIRE(spec.ok());
  return *spec;
}

// The mount at `destination`, or null.
json MountAt(const json& spec, const std::string& destination) {
  json found;
  for (const json& mount : spec["mounts"]) {
    if (mount["destination"] == destination) {
      CHECK(found.is_null());  // each destination once
      found = mount;
    }
  }
  return found;
}

Strings Destinations(const json& spec) {
  Strings out;
  for (const json& mount : spec["mounts"]) out.push_back(mount["destination"]);
  return out;
}

}  // namespace

TEST_CASE("A plain service gets containerd's defaults with the replica's own settings") {
  json spec = Build(Busybox());
  CHECK(spec["ociVersion"] == "1.0.2-dev");
  CHECK(spec["root"] == json{{"path", "rootfs"}, {"readonly", false}});
  CHECK(spec["hostname"] == "web");

  const json& process = spec["process"];
  CHECK(process["args"] == Strings{"/bin/httpd", "-f", "-p", "8080"});
  CHECK(process["env"] == Strings{"PATH=/bin"});
  CHECK(process["cwd"] == "/");
  CHECK(process["terminal"] == false);
  CHECK(process["noNewPrivileges"] == true);
  CHECK(process["user"] == json{{"uid", 1000}, {"gid", 1000}, {"additionalGids", {1000, 10}}});
  CHECK(process["rlimits"] ==
        json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 20000}, {"soft", 20000}}}));

  const json& linux = spec["linux"];
  CHECK(linux["cgroupsPath"] == "/zlayer/hello-web-0");
  CHECK(
      linux["namespaces"] ==
      json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}}));
}

TEST_CASE("Containers share the node's network: no network namespace is requested") {
  json spec = Build(Busybox());
  for (const json& ns : spec["linux"]["namespaces"]) CHECK(ns["type"] != "network");
}

TEST_CASE("Bounding, effective and permitted capabilities are equal and nothing is inheritable") {
  json spec = Build(Busybox());
  const json& caps = spec["process"]["capabilities"];
  CHECK(caps["bounding"].size() == 14);
  CHECK(caps["effective"] == caps["bounding"]);
  CHECK(caps["permitted"] == caps["bounding"]);
  CHECK_FALSE(caps.contains("inheritable"));
  CHECK_FALSE(caps.contains("ambient"));
}

TEST_CASE("A privileged service gets every node capability but never CAP_SYS_RESOURCE") {
  Service service = Busybox();
  service.privileged = true;
  json spec = Build(service);
  const json& bounding = spec["process"]["capabilities"]["bounding"];
  CHECK(bounding.size() == Context().node_capabilities.size());
  for (const json& capability : bounding) CHECK(capability != "CAP_SYS_RESOURCE");
  CHECK(spec["process"]["noNewPrivileges"] == false);
}

TEST_CASE("The working directory is the service's, else the image's, else /") {
  ImageConfig image = BusyboxImage();
  Service service = Busybox();
  CHECK(Build(service, image)["process"]["cwd"] == "/");
  image.working_dir = "/www";
  CHECK(Build(service, image)["process"]["cwd"] == "/www");
  image.working_dir = "srv";  // relative WORKDIR is taken from /
  CHECK(Build(service, image)["process"]["cwd"] == "/srv");
  service.command.workdir = "/data";
  CHECK(Build(service, image)["process"]["cwd"] == "/data");
}

TEST_CASE("The replica context's hostname wins over the service's") {
  ReplicaContext ctx = Context();
  ctx.hostname = "web-0";
  CHECK(Build(Busybox(), BusyboxImage(), ctx)["hostname"] == "web-0");
}

TEST_CASE("Mounts are containerd's defaults, the cgroup mount, then the generated /etc files") {
  json spec = Build(Busybox());
  CHECK(Destinations(spec) == Strings{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue",
                                      "/sys", "/run", "/sys/fs/cgroup", "/etc/hosts",
                                      "/etc/resolv.conf", "/etc/hostname"});
  CHECK(MountAt(spec, "/proc") == json{{"destination", "/proc"},
                                       {"type", "proc"},
                                       {"source", "proc"},
                                       {"options", {"nosuid", "noexec", "nodev"}}});
  CHECK(MountAt(spec, "/dev/pts")["options"] ==
        Strings{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"});
  CHECK(MountAt(spec, "/dev/shm")["options"] ==
        Strings{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"});
  CHECK(MountAt(spec, "/sys")["options"] == Strings{"nosuid", "noexec", "nodev", "ro"});
  CHECK(MountAt(spec, "/sys/fs/cgroup") ==
        json{{"destination", "/sys/fs/cgroup"},
             {"type", "cgroup"},
             {"source", "cgroup"},
             {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}});
  CHECK(MountAt(spec, "/etc/resolv.conf") == json{{"destination", "/etc/resolv.conf"},
                                                  {"type", "bind"},
                                                  {"source", "/data/c/hello-web-0/resolv.conf"},
                                                  {"options", {"rbind", "ro"}}});
}

TEST_CASE("A generated /etc file with no host path is not mounted") {
  ReplicaContext ctx = Context();
  ctx.files.hosts.clear();
  CHECK(MountAt(Build(Busybox(), BusyboxImage(), ctx), "/etc/hosts").is_null());
}

TEST_CASE("A privileged service may write cgroups, but sysfs stays read-only") {
  Service service = Busybox();
  service.privileged = true;
  json spec = Build(service);
  CHECK(MountAt(spec, "/sys/fs/cgroup")["options"].back() == "rw");
  CHECK(MountAt(spec, "/sys")["options"].back() == "ro");
}

TEST_CASE("Each kind of storage becomes its mount, after the defaults and in spec order") {
  Service service = Busybox();
  service.storage = {
      zlayer::spec::BindMount{"/srv/www", "/www", true},
      zlayer::spec::BindMount{"/srv/logs", "/logs", false},
      zlayer::spec::NamedVolume{"db-data", "/var/lib/db", false},
      zlayer::spec::NamedVolume{"config", "/config", true},
      zlayer::spec::AnonymousVolume{"/cache"},
      zlayer::spec::TmpfsMount{"/scratch", 64u << 20, 01777},
      zlayer::spec::TmpfsMount{"/tmp", std::nullopt, std::nullopt},
  };
  ReplicaContext ctx = Context();
  ctx.named_volume_dirs = {{"db-data", NamedVolumeDir("/var/lib/zlayer", "db-data")},
                           {"config", NamedVolumeDir("/var/lib/zlayer", "config")}};
  ctx.anonymous_volume_dirs = {{"/cache", AnonymousVolumeDir("/var/lib/zlayer/c/x", "/cache")}};
  json spec = Build(service, BusyboxImage(), ctx);

  Strings destinations = Destinations(spec);
  CHECK(Strings(destinations.end() - 7, destinations.end()) ==
        Strings{"/www", "/logs", "/var/lib/db", "/config", "/cache", "/scratch", "/tmp"});
  auto bind = [](const char* destination, const char* source, const char* mode) {
    return json{{"destination", destination},
                {"type", "bind"},
                {"source", source},
                {"options", {"rbind", mode}}};
  };
  CHECK(MountAt(spec, "/www") == bind("/www", "/srv/www", "ro"));
  CHECK(MountAt(spec, "/logs") == bind("/logs", "/srv/logs", "rw"));
  CHECK(MountAt(spec, "/var/lib/db") ==
        bind("/var/lib/db", "/var/lib/zlayer/volumes/db-data", "rw"));
  CHECK(MountAt(spec, "/config") == bind("/config", "/var/lib/zlayer/volumes/config", "ro"));
  CHECK(MountAt(spec, "/cache") == bind("/cache", "/var/lib/zlayer/c/x/volumes/cache", "rw"));
  CHECK(MountAt(spec, "/scratch") ==
        json{{"destination", "/scratch"},
             {"type", "tmpfs"},
             {"source", "tmpfs"},
             {"options", {"nosuid", "nodev", "size=67108864", "mode=1777"}}});
  CHECK(MountAt(spec, "/tmp")["options"] == Strings{"nosuid", "nodev"});
}

TEST_CASE("A storage target replaces the default or generated mount at the same place") {
  Service service = Busybox();
  service.storage = {zlayer::spec::TmpfsMount{"/dev/shm", 1u << 30, std::nullopt},
                     zlayer::spec::BindMount{"/srv/hosts", "/etc/hosts", true}};
  json spec = Build(service);
  CHECK(MountAt(spec, "/dev/shm")["options"] == Strings{"nosuid", "nodev", "size=1073741824"});
  CHECK(MountAt(spec, "/etc/hosts")["source"] == "/srv/hosts");
}

TEST_CASE("A volume the caller gave no directory for is an error naming it") {
  Service service = Busybox();
  service.storage = {zlayer::spec::NamedVolume{"db-data", "/var/lib/db", false}};
  auto named = BuildRuntimeSpec(service, BusyboxImage(), Context());
  REQUIRE_FALSE(named.ok());
  CHECK(named.status().message() ==
        "service web: named volume \"db-data\" has no directory on the node");

  service.storage = {zlayer::spec::AnonymousVolume{"/cache"}};
  auto anonymous = BuildRuntimeSpec(service, BusyboxImage(), Context());
  REQUIRE_FALSE(anonymous.ok());
  CHECK(anonymous.status().message() ==
        "service web: anonymous volume at /cache has no directory on the node");
}

TEST_CASE("Anonymous volume directories are distinct for distinct targets") {
  CHECK(AnonymousVolumeDir("/c", "/var/lib/data") == "/c/volumes/var-lib-data");
  CHECK(AnonymousVolumeDir("/c", "/a-b") == "/c/volumes/a%2Db");
  CHECK(AnonymousVolumeDir("/c", "/a/b") == "/c/volumes/a-b");
  CHECK(AnonymousVolumeDir("/c", "/my dir") == "/c/volumes/my%20dir");
  CHECK(NamedVolumeDir("/var/lib/zlayer", "db") == "/var/lib/zlayer/volumes/db");
}

TEST_CASE("Without resources only the device rules are set: deny all, allow the standard nine") {
  json resources = Build(Busybox())["linux"]["resources"];
  CHECK_FALSE(resources.contains("cpu"));
  CHECK_FALSE(resources.contains("memory"));
  CHECK_FALSE(resources.contains("pids"));
  const json& devices = resources["devices"];
  REQUIRE(devices.size() == 10);
  CHECK(devices[0] == json{{"allow", false}, {"access", "rwm"}});
  CHECK(devices[1] ==
        json{{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"access", "rwm"}});
  CHECK(devices[8] == json{{"allow", true}, {"type", "c"}, {"major", 136}, {"access", "rwm"}});
  for (size_t i = 1; i < devices.size(); ++i) CHECK(devices[i]["allow"] == true);
}

TEST_CASE("cpu, memory and pids limits become cgroup resources") {
  Service service = Busybox();
  service.resources.cpu = 1.5;
  service.resources.memory_bytes = 256u << 20;
  service.resources.pids_limit = 100;
  json resources = Build(service)["linux"]["resources"];
  CHECK(resources["cpu"] == json{{"quota", 150000}, {"period", 100000}});
  CHECK(resources["memory"] == json{{"limit", 268435456}});
  CHECK(resources["pids"] == json{{"limit", 100}});
}

TEST_CASE("A tiny cpu share still gets the kernel's minimum quota of 1ms") {
  Service service = Busybox();
  service.resources.cpu = 0.001;
  CHECK(Build(service)["linux"]["resources"]["cpu"]["quota"] == 1000);
}

TEST_CASE("Masked and read-only paths are containerd's, and a privileged service has none") {
  json linux = Build(Busybox())["linux"];
  CHECK(linux["maskedPaths"] == Strings{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                                        "/proc/latency_stats", "/proc/timer_list",
                                        "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                                        "/proc/scsi"});
  CHECK(linux["readonlyPaths"] ==
        Strings{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"});

  Service service = Busybox();
  service.privileged = true;
  json privileged = Build(service)["linux"];
  CHECK(privileged["maskedPaths"].empty());
  CHECK(privileged["readonlyPaths"].empty());
  CHECK(privileged["resources"]["devices"] == json::array({{{"allow", true}, {"access", "rwm"}}}));
}

TEST_CASE("read_only_root_fs makes the root read-only") {
  Service service = Busybox();
  service.read_only_root_fs = true;
  CHECK(Build(service)["root"]["readonly"] == true);
}

TEST_CASE("A service with nothing to run fails and names the service") {
  Service service = Busybox();
  service.command = {};
  ImageConfig image = BusyboxImage();
  image.cmd.reset();
  auto spec = BuildRuntimeSpec(service, image, Context());
  REQUIRE_FALSE(spec.ok());
  CHECK(spec.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(spec.status().message(), Catch::StartsWith("service web:"));
}

TEST_CASE("A context without container id or namespace is refused") {
  ReplicaContext ctx = Context();
  ctx.container_id.clear();
  CHECK_FALSE(BuildRuntimeSpec(Busybox(), BusyboxImage(), ctx).ok());
  ctx = Context();
  ctx.namespace_name.clear();
  CHECK_FALSE(BuildRuntimeSpec(Busybox(), BusyboxImage(), ctx).ok());
}

TEST_CASE(
    "The example spec of spec-v1.md, parsed, runs httpd with the image's env and the spec's") {
  const char* yaml = R"(version: v1
deployment: hello
services:
  web:
    image:
      name: 127.0.0.1:5000/busybox:latest
    command:
      entrypoint: ["/bin/httpd"]
      args: ["-f", "-p", "8080", "-h", "/www"]
    env:
      GREETING: hello
    cap_add: [NET_ADMIN, SYS_RESOURCE]
    ulimits:
      nofile: {soft: 65536, hard: 65536}
    storage:
      - type: tmpfs
        target: /www
        size: 1Mi
)";
  auto parsed = zlayer::spec::ParseSpec(yaml, "hello.yaml", {});
  REQUIRE(parsed.ok());
  const Service& web = parsed.deployment->services.at("web");
  ImageConfig image = BusyboxImage();
  image.entrypoint = Strings{"/bin/sh"};

  json spec = Build(web, image);
  CHECK(spec["hostname"] == "web");
  CHECK(spec["process"]["args"] == Strings{"/bin/httpd", "-f", "-p", "8080", "-h", "/www"});
  CHECK(spec["process"]["env"] == Strings{"PATH=/bin", "GREETING=hello"});
  CHECK(spec["process"]["rlimits"][0]["soft"] == 20000);
  const json& bounding = spec["process"]["capabilities"]["bounding"];
  CHECK(std::find(bounding.begin(), bounding.end(), "CAP_NET_ADMIN") != bounding.end());
  CHECK(std::find(bounding.begin(), bounding.end(), "CAP_SYS_RESOURCE") == bounding.end());
  CHECK(MountAt(spec, "/www")["options"] == Strings{"nosuid", "nodev", "size=1048576"});
}
