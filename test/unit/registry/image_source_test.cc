#include "agent/lifecycle/image_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "fake_registry.h"
#include "test/support/containerd/fake_client.h"
#include "test_images.h"

using namespace zlayer;
using namespace zlayer::images;
using namespace zlayer::oci;
using namespace zlayer::images::testing;
using spec::PullPolicy;

namespace {

const std::string kHost = "reg.test:5000";
const std::string kName = "reg.test:5000/zlayer/busybox:latest";

// A node (fake containerd) whose images come from a fake registry serving zlayer/busybox.
struct Node {
  Node() : store(client, "overlayfs", Platform{"linux", "amd64", ""}) {
    registry::RegistryOptions options;
    registry_client = std::make_unique<registry::RegistryClient>(fake, options);
    puller = std::make_unique<Puller>(client, store, *registry_client);
    log_path = dir.path() + "/agent.log";
    log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    log = std::make_unique<Logger>("test", LogLevel::kDebug, log_fd);
    source = std::make_unique<lifecycle::StoreImageSource>(store, *puller, 2, *log);
  }
  ~Node() { ::close(log_fd); }
  std::string Serve(const std::string& options, const std::string& name) {
    std::string digest = BuildTestImage(options, dir.path() + "/" + name);
    fake.LoadLayout("zlayer/busybox", dir.path() + "/" + name);
    return digest;
  }
  size_t Requests() const { return fake.Requests().size(); }
  std::string Log() const {
    std::ifstream in(log_path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  TempDir dir;
  containerd::FakeClient client;
  ImageStore store;
  registry::testing::FakeRegistry fake{kHost};
  std::unique_ptr<registry::RegistryClient> registry_client;
  std::unique_ptr<Puller> puller;
  std::string log_path;
  int log_fd = -1;
  std::unique_ptr<Logger> log;
  std::unique_ptr<lifecycle::StoreImageSource> source;
};

}  // namespace

TEST_CASE(
    "pull_policy never: a missing image is kNotFound saying so, and the registry is not asked") {
  Node node;
  node.Serve("", "v1");
  auto prepared = node.source->Prepare(kName, PullPolicy::kNever);
  REQUIRE_FALSE(prepared.ok());
  CHECK(prepared.status().code() == StatusCode::kNotFound);
  CHECK(prepared.status().message().find("pull_policy is never") != std::string::npos);
  CHECK(node.Requests() == 0);
}

TEST_CASE("pull_policy if_not_present pulls a missing image once, then uses the node's") {
  Node node;
  std::string digest = node.Serve("", "v1");
  auto first = node.source->Prepare(kName, PullPolicy::kIfNotPresent);
  REQUIRE(first.ok());
  CHECK(first->name == kName);
  CHECK(first->digest == digest);
  CHECK_FALSE(first->top_chain_id.empty());
  size_t after_pull = node.Requests();
  CHECK(after_pull > 0);
  auto second = node.source->Prepare(kName, PullPolicy::kIfNotPresent);
  REQUIRE(second.ok());
  CHECK(node.Requests() == after_pull);
  auto never = node.source->Prepare(kName, PullPolicy::kNever);
  REQUIRE(never.ok());
  CHECK(never->digest == digest);
}

TEST_CASE("pull_policy always asks the registry on each create but fetches no present blob") {
  Node node;
  node.Serve("--layers 1 --filler-mb 1", "v1");
  REQUIRE(node.source->Prepare(kName, PullPolicy::kAlways).ok());
  int blob_gets = node.fake.Count("GET", "/blobs/");
  int heads = node.fake.Count("HEAD", "/manifests/");
  REQUIRE(node.source->Prepare(kName, PullPolicy::kAlways).ok());
  CHECK(node.fake.Count("HEAD", "/manifests/") == heads + 1);
  CHECK(node.fake.Count("GET", "/blobs/") == blob_gets);
}

TEST_CASE("pull_policy newer pulls when the registry's digest changed, not otherwise") {
  Node node;
  std::string v1 = node.Serve("", "v1");
  REQUIRE(node.source->Prepare(kName, PullPolicy::kNewer).ok());
  int blob_gets = node.fake.Count("GET", "/blobs/");
  auto same = node.source->Prepare(kName, PullPolicy::kNewer);
  REQUIRE(same.ok());
  CHECK(same->digest == v1);
  CHECK(node.fake.Count("GET", "/blobs/") == blob_gets);

  std::string v2 = node.Serve("--layers 1", "v2");
  REQUIRE(v2 != v1);
  auto updated = node.source->Prepare(kName, PullPolicy::kNewer);
  REQUIRE(updated.ok());
  CHECK(updated->digest == v2);
  CHECK(node.client.GetImage(kName)->target.digest == v2);
}

TEST_CASE("pull_policy newer keeps the node's image, with a warning, when the registry is down") {
  Node node;
  std::string v1 = node.Serve("", "v1");
  REQUIRE(node.source->Prepare(kName, PullPolicy::kIfNotPresent).ok());
  node.fake.SetDown(true);
  auto kept = node.source->Prepare(kName, PullPolicy::kNewer);
  REQUIRE(kept.ok());
  CHECK(kept->digest == v1);
  CHECK(node.Log().find("keeping the node's copy") != std::string::npos);

  auto missing = node.source->Prepare("reg.test:5000/zlayer/other:1", PullPolicy::kNewer);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kUnavailable);
  auto always = node.source->Prepare(kName, PullPolicy::kAlways);
  REQUIRE_FALSE(always.ok());
  CHECK(always.status().code() == StatusCode::kUnavailable);
}
