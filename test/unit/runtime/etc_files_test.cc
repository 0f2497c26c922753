#include "agent/runtime/etc_files.h"

#include <catch2/catch.hpp>

using zlayer::runtime::RenderHostnameFile;
using zlayer::runtime::RenderHostsFile;
using zlayer::runtime::RenderResolvConf;

TEST_CASE("The hosts file resolves localhost and the container's own name") {
  std::string hosts = RenderHostsFile("web-0");
  CHECK_THAT(hosts, Catch::StartsWith("127.0.0.1\tlocalhost\n"));
  CHECK_THAT(hosts, Catch::Contains("::1\tlocalhost ip6-localhost ip6-loopback\n"));
  CHECK_THAT(hosts, Catch::EndsWith("127.0.1.1\tweb-0\n"));
}

TEST_CASE("resolv.conf is the node's, unchanged but newline-terminated") {
  CHECK(RenderResolvConf("nameserver 127.0.0.53\noptions edns0\n") ==
        "nameserver 127.0.0.53\noptions edns0\n");
  CHECK(RenderResolvConf("nameserver 10.0.0.1") == "nameserver 10.0.0.1\n");
  CHECK(RenderResolvConf("") == "");
}

TEST_CASE("The hostname file holds the hostname and a newline") {
  CHECK(RenderHostnameFile("web-0") == "web-0\n");
}
