// The process part of the runtime spec: argv, environment, capabilities and rlimits.
#include <catch2/catch.hpp>
#include <optional>

#include "agent/runtime/runtime_spec.h"
#include "agent/spec/kernel_names.h"

using zlayer::StatusCode;
using zlayer::oci::ImageConfig;
using zlayer::runtime::Capabilities;
using zlayer::runtime::CapabilitySet;
using zlayer::runtime::DefaultCapabilities;
using zlayer::runtime::ProcessArgs;
using zlayer::runtime::ProcessEnv;
using zlayer::runtime::RlimitMap;
using zlayer::runtime::Rlimits;
using zlayer::spec::Service;
using zlayer::spec::Ulimit;
using Strings = std::vector<std::string>;
using MaybeStrings = std::optional<Strings>;

namespace {

const MaybeStrings kUnset = std::nullopt;
const MaybeStrings kEmpty = Strings{};

Service NamedService() {
  Service service;
  service.name = "web";
  return service;
}

// Every capability Linux defines except CAP_SYS_RESOURCE: the bounding set of the VMs this
// project is built on.
CapabilitySet BoundingSetWithoutSysResource() {
  CapabilitySet set;
  for (std::string_view capability : zlayer::spec::AllCapabilities()) {
    if (capability != "CAP_SYS_RESOURCE") set.emplace(capability);
  }
  return set;
}

Strings With(Strings base, const Strings& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

}  // namespace

TEST_CASE("argv follows Docker's rules for every combination of entrypoint and args") {
  struct Case {
    MaybeStrings entrypoint, args;             // the service's command
    MaybeStrings image_entrypoint, image_cmd;  // the image's config
    MaybeStrings want;                         // nullopt: an error
  };
  const MaybeStrings ie = Strings{"/ie", "-x"};
  const MaybeStrings ic = Strings{"ic"};
  const MaybeStrings e = Strings{"/e"};
  const MaybeStrings a = Strings{"a", "b"};
  const Case cases[] = {
      // An image with both ENTRYPOINT and CMD.
      {kUnset, kUnset, ie, ic, Strings{"/ie", "-x", "ic"}},
      {kUnset, a, ie, ic, Strings{"/ie", "-x", "a", "b"}},
      {kUnset, kEmpty, ie, ic, Strings{"/ie", "-x"}},
      {e, kUnset, ie, ic, Strings{"/e"}},
      {e, kEmpty, ie, ic, Strings{"/e"}},
      {e, a, ie, ic, Strings{"/e", "a", "b"}},
      {kEmpty, kUnset, ie, ic, Strings{"ic"}},
      {kEmpty, a, ie, ic, Strings{"a", "b"}},
      {kEmpty, kEmpty, ie, ic, std::nullopt},
      // An image with only CMD.
      {kUnset, kUnset, kUnset, ic, Strings{"ic"}},
      {kUnset, a, kUnset, ic, Strings{"a", "b"}},
      {kUnset, kEmpty, kUnset, ic, std::nullopt},
      {e, kUnset, kUnset, ic, Strings{"/e"}},
      {kEmpty, kUnset, kUnset, ic, Strings{"ic"}},
      // An image with only ENTRYPOINT.
      {kUnset, kUnset, ie, kUnset, Strings{"/ie", "-x"}},
      {kUnset, a, ie, kUnset, Strings{"/ie", "-x", "a", "b"}},
      {kEmpty, kUnset, ie, kUnset, std::nullopt},
      // An image with `ENTRYPOINT []` behaves like one without.
      {kUnset, kUnset, kEmpty, ic, Strings{"ic"}},
      // An image with nothing to run needs the service to say what to run.
      {kUnset, kUnset, kUnset, kUnset, std::nullopt},
      {kUnset, a, kUnset, kUnset, Strings{"a", "b"}},
      {e, a, kUnset, kUnset, Strings{"/e", "a", "b"}},
  };
  int row = 0;
  for (const Case& c : cases) {
    INFO("row " << row++);
    Service service = NamedService();
    service.command.entrypoint = c.entrypoint;
    service.command.args = c.args;
    ImageConfig image;
    image.entrypoint = c.image_entrypoint;
    image.cmd = c.image_cmd;
    auto argv = ProcessArgs(service, image);
    if (c.want) {
      REQUIRE(argv.ok());
      CHECK(*argv == *c.want);
    } else {
      REQUIRE_FALSE(argv.ok());
      CHECK(argv.status().code() == StatusCode::kInvalidArgument);
      CHECK_THAT(argv.status().message(), Catch::StartsWith("service web: nothing to run"));
    }
  }
}

TEST_CASE("The service's env replaces image keys in place and appends new ones") {
  Service service = NamedService();
  service.env = {{"MODE", "prod"}, {"NEW", "1"}};
  ImageConfig image;
  image.env = {"PATH=/bin", "MODE=dev", "HOME=/root"};
  CHECK(ProcessEnv(service, image, {}) == Strings{"PATH=/bin", "MODE=prod", "HOME=/root", "NEW=1"});
}

TEST_CASE("The node's extra env overrides the image and is overridden by the service") {
  Service service = NamedService();
  service.env = {{"B", "service"}};
  ImageConfig image;
  image.env = {"PATH=/bin", "A=image", "B=image"};
  CHECK(ProcessEnv(service, image, {"A=node", "B=node", "C=node"}) ==
        Strings{"PATH=/bin", "A=node", "B=service", "C=node"});
}

TEST_CASE("Without any PATH the default PATH comes first") {
  Service service = NamedService();
  service.env = {{"X", "1"}};
  ImageConfig image;
  CHECK(ProcessEnv(service, image, {}) ==
        Strings{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "X=1"});
  image.env = {"LANG=C.UTF-8"};
  CHECK(ProcessEnv(service, image, {}).front() ==
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  service.env = {{"PATH", "/opt/bin"}};
  CHECK(ProcessEnv(service, image, {}) == Strings{"LANG=C.UTF-8", "PATH=/opt/bin"});
}

TEST_CASE("Capabilities follow Docker's add and drop rules within a node that lacks SYS_RESOURCE") {
  const CapabilitySet node = BoundingSetWithoutSysResource();
  const Strings defaults = DefaultCapabilities();
  const Strings all_but_sys_resource(node.begin(), node.end());
  struct Case {
    const char* name;
    Strings add, drop;
    std::optional<Strings> exactly;  // compared as sets
    Strings present, absent;
  };
  const Case cases[] = {
      {"no changes give the 14 defaults", {}, {}, defaults, {}, {}},
      {"an added capability joins the defaults",
       {"CAP_NET_ADMIN"},
       {},
       With(defaults, {"CAP_NET_ADMIN"}),
       {},
       {}},
      {"a short or lower-case name works like the canonical one",
       {"net_admin", "SYS_PTRACE"},
       {"cap_kill"},
       std::nullopt,
       {"CAP_NET_ADMIN", "CAP_SYS_PTRACE"},
       {"CAP_KILL"}},
      {"adding SYS_RESOURCE grants nothing the node lacks",
       {"CAP_SYS_RESOURCE"},
       {},
       defaults,
       {},
       {}},
      {"a dropped capability leaves the defaults",
       {},
       {"CAP_NET_RAW"},
       std::nullopt,
       {"CAP_CHOWN"},
       {"CAP_NET_RAW"}},
      {"add wins over drop of the same capability",
       {"CAP_NET_RAW"},
       {"CAP_NET_RAW"},
       defaults,
       {},
       {}},
      {"drop ALL keeps exactly what is added",
       {"CAP_NET_BIND_SERVICE"},
       {"ALL"},
       Strings{"CAP_NET_BIND_SERVICE"},
       {},
       {}},
      {"drop ALL with nothing added keeps nothing", {}, {"ALL"}, Strings{}, {}, {}},
      {"add ALL gives every capability the node holds", {"ALL"}, {}, all_but_sys_resource, {}, {}},
      {"add ALL minus a drop",
       {"ALL"},
       {"CAP_SYS_ADMIN"},
       std::nullopt,
       {"CAP_NET_ADMIN"},
       {"CAP_SYS_ADMIN"}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Service service = NamedService();
    service.cap_add = c.add;
    service.cap_drop = c.drop;
    auto caps = Capabilities(service, node);
    REQUIRE(caps.ok());
    CapabilitySet got(caps->begin(), caps->end());
    CHECK(got.size() == caps->size());  // no duplicates
    CHECK_FALSE(got.count("CAP_SYS_RESOURCE"));
    for (const std::string& capability : got) CHECK(node.count(capability));
    if (c.exactly) CHECK(got == CapabilitySet(c.exactly->begin(), c.exactly->end()));
    for (const std::string& name : c.present) CHECK(got.count(name));
    for (const std::string& name : c.absent) CHECK_FALSE(got.count(name));
  }
}

TEST_CASE("A privileged service gets exactly the node's bounding set, whatever cap_drop says") {
  Service service = NamedService();
  service.privileged = true;
  service.cap_drop = {"ALL"};
  const CapabilitySet node = BoundingSetWithoutSysResource();
  auto caps = Capabilities(service, node);
  REQUIRE(caps.ok());
  CHECK(CapabilitySet(caps->begin(), caps->end()) == node);

  const CapabilitySet small = {"CAP_CHOWN", "CAP_KILL"};
  auto few = Capabilities(service, small);
  REQUIRE(few.ok());
  CHECK(*few == Strings{"CAP_CHOWN", "CAP_KILL"});
}

TEST_CASE("Capabilities come out in kernel bit order") {
  Service service = NamedService();
  service.cap_add = {"CAP_SYSLOG", "CAP_SYS_ADMIN"};
  auto caps = Capabilities(service, BoundingSetWithoutSysResource());
  REQUIRE(caps.ok());
  CHECK(caps->front() == "CAP_CHOWN");
  CHECK(caps->back() == "CAP_SYSLOG");  // bit 34, after CAP_SETFCAP (31)
}

TEST_CASE("An unknown capability name is an error naming the field and the name") {
  Service service = NamedService();
  service.cap_drop = {"CAP_FLY"};
  auto caps = Capabilities(service, BoundingSetWithoutSysResource());
  REQUIRE_FALSE(caps.ok());
  CHECK(caps.status().message() == "service web: cap_drop: unknown capability \"CAP_FLY\"");
}

TEST_CASE("rlimits never exceed the node's hard limits") {
  constexpr uint64_t kInf = Ulimit::kUnlimited;
  struct Case {
    const char* name;
    std::map<std::string, Ulimit> ulimits;
    RlimitMap node;
    std::string type;
    uint64_t soft, hard;
  };
  const Case cases[] = {
      {"the nofile default is clamped to the node's 20000",
       {},
       {{"RLIMIT_NOFILE", 20000}},
       "RLIMIT_NOFILE",
       20000,
       20000},
      {"the nofile default is 1048576 when the node allows it",
       {},
       {{"RLIMIT_NOFILE", kInf}},
       "RLIMIT_NOFILE",
       1048576,
       1048576},
      {"a nofile within the node's limit is kept",
       {{"nofile", {1024, 4096}}},
       {{"RLIMIT_NOFILE", 20000}},
       "RLIMIT_NOFILE",
       1024,
       4096},
      {"a nofile above the node's limit is clamped",
       {{"nofile", {30000, 40000}}},
       {{"RLIMIT_NOFILE", 20000}},
       "RLIMIT_NOFILE",
       20000,
       20000},
      {"only the part above the limit is clamped",
       {{"nofile", {10000, 40000}}},
       {{"RLIMIT_NOFILE", 20000}},
       "RLIMIT_NOFILE",
       10000,
       20000},
      {"unlimited becomes the node's limit",
       {{"nproc", {kInf, kInf}}},
       {{"RLIMIT_NPROC", 5000}},
       "RLIMIT_NPROC",
       5000,
       5000},
      {"unlimited stays unlimited on an unlimited node",
       {{"core", {kInf, kInf}}},
       {{"RLIMIT_CORE", kInf}},
       "RLIMIT_CORE",
       kInf,
       kInf},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Service service = NamedService();
    service.ulimits = c.ulimits;
    auto rlimits = Rlimits(service, c.node);
    REQUIRE(rlimits.ok());
    bool found = false;
    for (const auto& rlimit : *rlimits) {
      if (rlimit["type"] != c.type) continue;
      found = true;
      CHECK(rlimit["soft"].get<uint64_t>() == c.soft);
      CHECK(rlimit["hard"].get<uint64_t>() == c.hard);
    }
    CHECK(found);
  }
}

TEST_CASE("rlimits list nofile plus each ulimit once, sorted by type") {
  Service service = NamedService();
  service.ulimits = {{"nproc", {100, 200}}, {"core", {0, 0}}, {"nofile", {64, 64}}};
  auto rlimits = Rlimits(service, {});
  REQUIRE(rlimits.ok());
  Strings types;
  for (const auto& rlimit : *rlimits) types.push_back(rlimit["type"]);
  CHECK(types == Strings{"RLIMIT_CORE", "RLIMIT_NOFILE", "RLIMIT_NPROC"});
}

TEST_CASE("An unknown ulimit name is an error naming it") {
  Service service = NamedService();
  service.ulimits = {{"bogus", {1, 1}}};
  auto rlimits = Rlimits(service, {});
  REQUIRE_FALSE(rlimits.ok());
  CHECK(rlimits.status().message() == "service web: ulimits: unknown limit \"bogus\"");
}
