#include "supervisor/preflight.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace zlayer::init;

TEST_CASE("Overlayfs on a root that is not overlay is kept") {
  auto choice = ChooseSnapshotter("overlayfs", false, false, "/var/lib/containerd");
  REQUIRE(choice.ok());
  CHECK(choice->snapshotter == "overlayfs");
  CHECK(choice->warning.empty());
}

TEST_CASE("Overlayfs on an overlay root falls back to native with a warning when not pinned") {
  auto choice = ChooseSnapshotter("overlayfs", false, true, "/var/lib/containerd");
  REQUIRE(choice.ok());
  CHECK(choice->snapshotter == "native");
  CHECK_THAT(choice->warning, Catch::Contains("mount a volume at /var/lib/containerd"));
}

TEST_CASE("A pinned overlayfs on an overlay root is an error naming the fix") {
  auto choice = ChooseSnapshotter("overlayfs", true, true, "/var/lib/containerd");
  REQUIRE_FALSE(choice.ok());
  CHECK_THAT(choice.status().message(), Catch::Contains("-v /var/lib/containerd"));
  CHECK_THAT(choice.status().message(), Catch::Contains("ZLAYER_SNAPSHOTTER=native"));
}

TEST_CASE("Other snapshotters do not care what the root is on") {
  auto choice = ChooseSnapshotter("native", true, true, "/x");
  REQUIRE(choice.ok());
  CHECK(choice->snapshotter == "native");
}

TEST_CASE("cgroup nesting is needed only at the root of a cgroup v2 namespace") {
  CHECK(NeedsCgroupNesting("0::/\n", true));
  CHECK_FALSE(NeedsCgroupNesting("0::/init\n", true));
  CHECK_FALSE(NeedsCgroupNesting("0::/\n", false));
  CHECK_FALSE(NeedsCgroupNesting("12:pids:/\n0::/\n", false));
}

TEST_CASE("Nesting moves the root's processes into init/ and enables every controller") {
  // A directory that looks like a cgroup2 root; its files are plain files.
  char dir_template[] = "/tmp/zl-cg-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  std::string root = dir_template;
  std::ofstream(root + "/cgroup.procs") << "1\n57\n";
  std::ofstream(root + "/cgroup.controllers") << "cpuset cpu io memory pids\n";
  std::ofstream(root + "/cgroup.subtree_control");
  REQUIRE(mkdir((root + "/init").c_str(), 0755) == 0);
  std::ofstream(root + "/init/cgroup.procs");

  zlayer::Logger log("test", zlayer::LogLevel::kError);
  REQUIRE(NestCgroupV2(root, log).ok());

  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  CHECK(read(root + "/init/cgroup.procs") == "1\n57\n");
  CHECK(read(root + "/cgroup.subtree_control") == "+cpuset +cpu +io +memory +pids");
  std::filesystem::remove_all(root);
}

TEST_CASE("The root mount counts as shared only when mountinfo tags it shared") {
  const char* shared =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
      "23 22 0:5 / /dev rw shared:2 - devtmpfs udev rw\n";
  const char* private_root = "22 1 8:1 / / rw,relatime - ext4 /dev/vda rw\n";
  const char* overlay_root =
      "500 400 0:50 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/a\n";
  CHECK(RootIsShared(shared));
  CHECK_FALSE(RootIsShared(private_root));
  CHECK_FALSE(RootIsShared(overlay_root));
}

TEST_CASE("A node without CAP_SYS_ADMIN is told what it misses") {
  CHECK(MissingCapabilities(0) == std::vector<std::string>{"CAP_SYS_ADMIN"});
  CHECK(MissingCapabilities(0x1fffeffffffULL).empty());
}
