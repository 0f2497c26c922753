#include "agent/runtime/user.h"

#include <catch2/catch.hpp>

using zlayer::StatusCode;
using zlayer::runtime::ResolvedUser;
using zlayer::runtime::ResolveUser;
using Gids = std::vector<uint32_t>;

namespace {

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "\n"
    "app:x:1000:1000:App:/home/app:/bin/sh\n"
    "  web:x:33:33:www-data:/var/www:/usr/sbin/nologin  \n"
    "short:x:2000\n";

const char* kGroup =
    "root:x:0:\n"
    "daemon:x:1:\n"
    "wheel:x:10:root,app\n"
    "app:x:1000:app\n"
    "staff:x:50:web,app\n"
    "audio:x:29:\n"
    "www:x:33:\n";

}  // namespace

TEST_CASE("User resolution follows containerd's rules for every form of USER") {
  struct Case {
    const char* user;
    ResolvedUser want;
  };
  const Case cases[] = {
      // No USER: root, with root's supplementary groups.
      {"", {0, 0, Gids{0, 10}}},
      // A uid takes its gid from passwd...
      {"1000", {1000, 1000, Gids{1000, 10, 50}}},
      // ...or gid 0 when passwd has no such uid.
      {"4242", {4242, 0, Gids{0}}},
      // A name takes uid and gid from passwd.
      {"app", {1000, 1000, Gids{1000, 10, 50}}},
      {"web", {33, 33, Gids{33, 50}}},
      // uid:gid is used as is; supplementary groups still come from the uid's name.
      {"1000:29", {1000, 29, Gids{29, 10, 50}}},
      {"77:88", {77, 88, Gids{88}}},
      // Names on either side are looked up, numbers are kept.
      {"app:audio", {1000, 29, Gids{29, 10, 50}}},
      {"1000:staff", {1000, 50, Gids{10, 50}}},
      {"daemon:5", {1, 5, Gids{5}}},
      // A passwd line cut short reads the missing fields as 0, as runc's parser does.
      {"short", {2000, 0, Gids{0}}},
  };
  for (const Case& c : cases) {
    INFO("user \"" << c.user << "\"");
    auto resolved = ResolveUser(c.user, kPasswd, kGroup);
    REQUIRE(resolved.ok());
    CHECK(resolved->uid == c.want.uid);
    CHECK(resolved->gid == c.want.gid);
    CHECK(resolved->additional_gids == c.want.additional_gids);
  }
}

TEST_CASE("The group named after the user is not a supplementary group even if it lists the user") {
  auto resolved = ResolveUser("app:0", kPasswd, kGroup);
  REQUIRE(resolved.ok());
  // app:x:1000:app is excluded; the primary gid 0 is prepended.
  CHECK(resolved->additional_gids == Gids{0, 10, 50});
}

TEST_CASE("The primary gid is not repeated when a supplementary group already holds it") {
  auto resolved = ResolveUser("app:10", kPasswd, kGroup);
  REQUIRE(resolved.ok());
  CHECK(resolved->additional_gids == Gids{10, 50});
}

TEST_CASE("An image without /etc/passwd or /etc/group still runs numeric users") {
  auto root = ResolveUser("", "", "");
  REQUIRE(root.ok());
  CHECK(*root == ResolvedUser{0, 0, Gids{0}});
  auto uid = ResolveUser("1000", "", "");
  REQUIRE(uid.ok());
  CHECK(*uid == ResolvedUser{1000, 0, Gids{0}});
  auto both = ResolveUser("1000:1000", "", "");
  REQUIRE(both.ok());
  CHECK(*both == ResolvedUser{1000, 1000, Gids{1000}});
}

TEST_CASE("A user or group name the image does not define is an error naming it") {
  struct Case {
    const char* user;
    const char* passwd;
    const char* group;
    const char* message;
  };
  const Case cases[] = {
      {"nobody", kPasswd, kGroup, "no user \"nobody\" in the image's /etc/passwd"},
      {"app", "", kGroup, "no user \"app\" in the image's /etc/passwd"},
      {"app:nogroup", kPasswd, kGroup, "no group \"nogroup\" in the image's /etc/group"},
      {"1000:staff", kPasswd, "", "no group \"staff\" in the image's /etc/group"},
      // Numbers outside 0..2^31-1 are names, as in containerd.
      {"-1", kPasswd, kGroup, "no user \"-1\""},
      {"2147483648", kPasswd, kGroup, "no user \"2147483648\""},
  };
  for (const Case& c : cases) {
    INFO(c.user);
    auto resolved = ResolveUser(c.user, c.passwd, c.group);
    REQUIRE_FALSE(resolved.ok());
    CHECK(resolved.status().code() == StatusCode::kNotFound);
    CHECK_THAT(resolved.status().message(), Catch::Contains(c.message));
  }
}

TEST_CASE("A user string with more than one colon or an empty part is malformed") {
  for (const char* user : {"a:b:c", ":0", "0:", ":"}) {
    INFO(user);
    auto resolved = ResolveUser(user, kPasswd, kGroup);
    REQUIRE_FALSE(resolved.ok());
    CHECK(resolved.status().code() == StatusCode::kInvalidArgument);
  }
}
