#include "test/support/containerd/fake_client.h"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <thread>

#include "agent/oci/digest.h"

using namespace zlayer;
using namespace zlayer::containerd;
using Method = FakeClient::Method;

namespace {

std::string Gzip(const std::string& data) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) ==
          Z_OK);
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Reads a string, recording Seek calls.
class StringSource : public BlobSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  Result<size_t> Read(char* buffer, size_t size) override {
    ++reads;
    size_t n = std::min(size, data_.size() - position_);
    std::copy_n(data_.data() + position_, n, buffer);
    position_ += n;
    return n;
  }
  Status Seek(int64_t offset) override {
    seeks.push_back(offset);
    position_ = static_cast<size_t>(offset);
    return Status::Ok();
  }
  int reads = 0;
  std::vector<int64_t> seeks;

 private:
  std::string data_;
  size_t position_ = 0;
};

Descriptor DescriptorOf(const std::string& data) {
  return {
      "application/octet-stream", oci::Sha256Digest(data), static_cast<int64_t>(data.size()), {}};
}

ContainerRecord Container(const std::string& id, Labels labels = {}) {
  ContainerRecord c;
  c.id = id;
  c.labels = std::move(labels);
  c.spec_json = "{}";
  return c;
}

}  // namespace

TEST_CASE("WriteContent verifies size and digest at commit and applies labels") {
  FakeClient client;
  std::string data = "hello blob";
  StringSource good(data);
  REQUIRE(client.WriteContent("ref-1", DescriptorOf(data), good, {{"a", "b"}}, "").ok());
  CHECK(*client.ReadContent(oci::Sha256Digest(data), 100) == data);
  CHECK(client.GetContent(oci::Sha256Digest(data))->labels == Labels{{"a", "b"}});
  CHECK(client.GetContent(oci::Sha256Digest(data))->size == static_cast<int64_t>(data.size()));
  CHECK(client.ReadContent(oci::Sha256Digest(data), 3).status().code() == StatusCode::kOutOfRange);

  StringSource wrong("other bytes");
  Descriptor expected = DescriptorOf("other bytez");
  Status mismatch = client.WriteContent("ref-2", expected, wrong, {}, "");
  CHECK(mismatch.code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(mismatch.message(), Catch::Contains("unexpected commit digest"));
  CHECK(client.Ingests().empty());  // a failed commit does not leave the bad bytes to resume

  StringSource short_source("other bytez");
  expected.size = 100;
  CHECK_THAT(client.WriteContent("ref-3", expected, short_source, {}, "").message(),
             Catch::Contains("unexpected commit size 11, expected 100"));
  CHECK(client.GetContent(expected.digest).status().code() == StatusCode::kNotFound);

  Descriptor bad_digest{"x", "md5:abc", 3, {}};
  StringSource s("abc");
  CHECK(client.WriteContent("ref-4", bad_digest, s, {}, "").code() == StatusCode::kInvalidArgument);
  CHECK(client.WriteContent("ref-5", DescriptorOf("abc"), s, {{"k", std::string(5000, 'v')}}, "")
            .code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Existing content is not read again and gets the new labels") {
  FakeClient client;
  std::string digest = client.AddContent("abc", {{"keep", "1"}, {"drop", "1"}});
  StringSource source("abc");
  REQUIRE(client.WriteContent("ref", DescriptorOf("abc"), source, {{"new", "2"}, {"drop", ""}}, "")
              .ok());
  CHECK(source.reads == 0);
  CHECK(client.GetContent(digest)->labels == Labels{{"keep", "1"}, {"new", "2"}});
  REQUIRE(client.UpdateContentLabels(digest, {{"keep", ""}}).ok());
  CHECK(client.GetContent(digest)->labels == Labels{{"new", "2"}});
  CHECK(client.UpdateContentLabels("sha256:" + std::string(64, '0'), {}).code() ==
        StatusCode::kNotFound);
}

TEST_CASE("An interrupted write keeps its partial ingest and the next write resumes from it") {
  FakeClient client;
  std::string data(3 << 20, 'x');
  data[12345] = 'y';
  client.InterruptNextWrite(1 << 20);
  StringSource first(data);
  Status interrupted = client.WriteContent("layer-1", DescriptorOf(data), first, {}, "");
  CHECK(interrupted.code() == StatusCode::kUnavailable);
  CHECK(client.Ingests().at("layer-1").size() == 1 << 20);

  StringSource second(data);
  REQUIRE(client.WriteContent("layer-1", DescriptorOf(data), second, {}, "").ok());
  CHECK(second.seeks == std::vector<int64_t>{1 << 20});
  CHECK(*client.ReadContent(oci::Sha256Digest(data), 4 << 20) == data);
  CHECK(client.Ingests().empty());

  SECTION("a seeded ingest resumes too") {
    std::string other = "0123456789";
    client.SetIngest("ref-x", oci::Sha256Digest(other), "01234");
    StringSource third(other);
    REQUIRE(client.WriteContent("ref-x", DescriptorOf(other), third, {}, "").ok());
    CHECK(third.seeks == std::vector<int64_t>{5});
  }
}

TEST_CASE("Calls under an unknown lease fail with not found; leases hold what they created") {
  FakeClient client;
  StringSource source("abc");
  Status no_lease = client.WriteContent("r", DescriptorOf("abc"), source, {}, "no-such-lease");
  CHECK(no_lease.code() == StatusCode::kNotFound);
  CHECK_THAT(no_lease.message(), Catch::Contains("lease does not exist"));

  std::string lease = *client.CreateLease(std::chrono::hours(1));
  REQUIRE(client.WriteContent("r", DescriptorOf("abc"), source, {}, lease).ok());
  REQUIRE(client.PrepareSnapshot("overlayfs", "k", "", {}, lease).ok());
  client.CollectGarbage();
  CHECK(client.ContentDigests().size() == 1);
  CHECK(client.SnapshotKeys("overlayfs").size() == 1);
  REQUIRE(client.DeleteLease(lease, /*sync=*/true).ok());
  CHECK(client.ContentDigests().empty());
  CHECK(client.SnapshotKeys("overlayfs").empty());
  CHECK(client.DeleteLease(lease, false).code() == StatusCode::kNotFound);
}

TEST_CASE("Garbage collection keeps what image records and containers reach through GC labels") {
  FakeClient client;
  std::string layer = client.AddContent("layer");
  std::string config =
      client.AddContent("config", {{"containerd.io/gc.ref.snapshot.overlayfs", "top"}});
  std::string manifest =
      client.AddContent("manifest", {{"containerd.io/gc.ref.content.config", config},
                                     {"containerd.io/gc.ref.content.l.0", layer}});
  std::string stray = client.AddContent("stray");
  std::string rooted = client.AddContent("rooted", {{"containerd.io/gc.root", "1"}});
  REQUIRE(client.PrepareSnapshot("overlayfs", "base-key", "", {}, "").ok());
  REQUIRE(client.CommitSnapshot("overlayfs", "base", "base-key", {}, "").ok());
  REQUIRE(client.PrepareSnapshot("overlayfs", "top-key", "base", {}, "").ok());
  REQUIRE(client.CommitSnapshot("overlayfs", "top", "top-key", {}, "").ok());
  REQUIRE(client.PrepareSnapshot("overlayfs", "orphan", "", {}, "").ok());
  REQUIRE(client.PrepareSnapshot("overlayfs", "web-0", "top", {}, "").ok());
  REQUIRE(client
              .CreateContainer(
                  [] {
                    ContainerRecord c = Container("web-0");
                    c.snapshotter = "overlayfs";
                    c.snapshot_key = "web-0";
                    return c;
                  }(),
                  "")
              .ok());
  REQUIRE(client
              .PutImage({"docker.io/library/x:1",
                         {"application/vnd.oci.image.manifest.v1+json", manifest, 8, {}},
                         {},
                         {},
                         {}})
              .ok());

  client.CollectGarbage();
  CHECK(client.ContentDigests().size() == 4);
  CHECK_FALSE(client.GetContent(stray).ok());
  CHECK(client.GetContent(rooted).ok());
  CHECK(client.SnapshotKeys("overlayfs") == std::vector<std::string>{"base", "top", "web-0"});

  REQUIRE(client.DeleteImage("docker.io/library/x:1", /*sync=*/true).ok());
  CHECK(client.ContentDigests() == std::vector<std::string>{rooted});
  // The container still holds its snapshot and, through it, the parents.
  CHECK(client.SnapshotKeys("overlayfs") == std::vector<std::string>{"base", "top", "web-0"});
}

TEST_CASE("Snapshots have parents, unique keys and refuse removal while they have children") {
  FakeClient client;
  CHECK(client.PrepareSnapshot("", "k", "", {}, "").status().code() ==
        StatusCode::kInvalidArgument);
  Result<std::vector<Mount>> base = client.PrepareSnapshot("overlayfs", "a-key", "", {}, "");
  REQUIRE(base.ok());
  CHECK((*base)[0].type == "bind");
  CHECK(client.PrepareSnapshot("overlayfs", "a-key", "", {}, "").status().code() ==
        StatusCode::kAlreadyExists);
  CHECK(client.PrepareSnapshot("overlayfs", "b-key", "a-key", {}, "").status().code() ==
        StatusCode::kInvalidArgument);  // parent not committed
  CHECK(client.PrepareSnapshot("overlayfs", "b-key", "nope", {}, "").status().code() ==
        StatusCode::kNotFound);
  REQUIRE(client.CommitSnapshot("overlayfs", "a", "a-key", {{"l", "1"}}, "").ok());
  CHECK(client.StatSnapshot("overlayfs", "a-key").status().code() == StatusCode::kNotFound);
  CHECK(client.StatSnapshot("overlayfs", "a")->kind == SnapshotKind::kCommitted);
  CHECK(client.StatSnapshot("overlayfs", "a")->labels == Labels{{"l", "1"}});
  CHECK(client.CommitSnapshot("overlayfs", "x", "a", {}, "").code() ==
        StatusCode::kFailedPrecondition);
  CHECK(client.SnapshotMounts("overlayfs", "a").status().code() == StatusCode::kFailedPrecondition);

  Result<std::vector<Mount>> child = client.PrepareSnapshot("overlayfs", "b-key", "a", {}, "");
  REQUIRE(child.ok());
  CHECK((*child)[0].type == "overlay");
  CHECK((*client.SnapshotMounts("overlayfs", "b-key"))[0].options == (*child)[0].options);
  // The snapshot.ref label names a target that already exists.
  CHECK(client.PrepareSnapshot("overlayfs", "c-key", "", {{kLabelSnapshotRef, "a"}}, "")
            .status()
            .code() == StatusCode::kAlreadyExists);

  CHECK(client.RemoveSnapshot("overlayfs", "a").code() == StatusCode::kFailedPrecondition);
  REQUIRE(client.RemoveSnapshot("overlayfs", "b-key").ok());
  REQUIRE(client.RemoveSnapshot("overlayfs", "a").ok());
  CHECK(client.RemoveSnapshot("overlayfs", "a").code() == StatusCode::kNotFound);
}

TEST_CASE("ApplyDiff returns the sha256 of the decompressed layer and records it on the snapshot") {
  FakeClient client;
  std::string tar(2048, '\0');  // an empty tar
  std::string gz = Gzip(tar);
  std::string digest = client.AddContent(gz);
  Descriptor layer{
      "application/vnd.oci.image.layer.v1.tar+gzip", digest, static_cast<int64_t>(gz.size()), {}};
  std::vector<Mount> mounts = *client.PrepareSnapshot("overlayfs", "k", "", {}, "");
  Result<Descriptor> applied = client.ApplyDiff(layer, mounts, "");
  REQUIRE(applied.ok());
  CHECK(applied->digest == oci::Sha256Digest(tar));
  CHECK(applied->size == 2048);
  CHECK(applied->media_type == "application/vnd.oci.image.layer.v1.tar");
  CHECK(client.AppliedDiffs("overlayfs", "k") == std::vector<std::string>{oci::Sha256Digest(tar)});
  REQUIRE(client.CommitSnapshot("overlayfs", "c", "k", {}, "").ok());
  CHECK(client.AppliedDiffs("overlayfs", "c") == std::vector<std::string>{oci::Sha256Digest(tar)});

  std::string not_gzip = client.AddContent(tar);
  Descriptor lying{"application/vnd.oci.image.layer.v1.tar+gzip", not_gzip, 2048, {}};
  mounts = *client.PrepareSnapshot("overlayfs", "k2", "", {}, "");
  CHECK(client.ApplyDiff(lying, mounts, "").status().code() == StatusCode::kInvalidArgument);
  CHECK(client.ApplyDiff({"x", "sha256:" + std::string(64, '1'), 1, {}}, mounts, "")
            .status()
            .code() == StatusCode::kNotFound);
  std::string garbage = client.AddContent(std::string(1000, 'g'));
  CHECK(client.ApplyDiff({"application/vnd.oci.image.layer.v1.tar", garbage, 1000, {}}, mounts, "")
            .status()
            .code() == StatusCode::kInvalidArgument);
}

TEST_CASE("FailNext fails exactly the next calls of a method, and CallCount counts them all") {
  FakeClient client;
  client.FailNext(Method::kVersion, UnavailableError("away"));
  client.FailNext(Method::kVersion, DeadlineExceededError("slow"));
  CHECK(client.Version().status().code() == StatusCode::kUnavailable);
  CHECK(client.Version().status().code() == StatusCode::kDeadlineExceeded);
  CHECK(client.Version().ok());
  CHECK(client.CallCount(Method::kVersion) == 3);
  CHECK(client.CallCount(Method::kListImages) == 0);
  client.ResetCallCounts();
  CHECK(client.CallCount(Method::kVersion) == 0);
  CHECK(std::string(FakeClient::MethodName(Method::kApplyDiff)) == "ApplyDiff");
}

TEST_CASE("Images are validated, created and replaced") {
  FakeClient client;
  Descriptor target{
      "application/vnd.oci.image.manifest.v1+json", "sha256:" + std::string(64, 'a'), 10, {}};
  CHECK(client.PutImage({"", target, {}, {}, {}}).code() == StatusCode::kInvalidArgument);
  CHECK(client.PutImage({"n", {"", target.digest, 10, {}}, {}, {}, {}}).code() ==
        StatusCode::kInvalidArgument);
  CHECK(client.PutImage({"n", {target.media_type, target.digest, 0, {}}, {}, {}, {}}).code() ==
        StatusCode::kInvalidArgument);
  REQUIRE(client.PutImage({"n", target, {{"a", "1"}}, {}, {}}).ok());
  target.size = 11;
  REQUIRE(client.PutImage({"n", target, {}, {}, {}}).ok());
  CHECK(client.GetImage("n")->target.size == 11);
  CHECK(client.GetImage("n")->labels.empty());
  CHECK(client.ListImages()->size() == 1);
  CHECK(client.GetImage("m").status().code() == StatusCode::kNotFound);
  CHECK(client.DeleteImage("m", false).code() == StatusCode::kNotFound);
}

TEST_CASE("Containers are listed by label filters") {
  FakeClient client;
  REQUIRE(client.CreateContainer(Container("web-0", {{"zlayer.deployment", "web"}}), "").ok());
  REQUIRE(client.CreateContainer(Container("db-0", {{"zlayer.deployment", "db"}}), "").ok());
  REQUIRE(client.CreateContainer(Container("other"), "").ok());
  CHECK(client.CreateContainer(Container("web-0"), "").code() == StatusCode::kAlreadyExists);
  CHECK(client.CreateContainer(Container("bad id!"), "").code() == StatusCode::kInvalidArgument);
  CHECK(client.ListContainers("")->size() == 3);
  CHECK(client.ListContainers(R"(labels."zlayer.deployment")")->size() == 2);
  Result<std::vector<ContainerRecord>> web =
      client.ListContainers(R"(labels."zlayer.deployment"==web)");
  REQUIRE(web->size() == 1);
  CHECK((*web)[0].id == "web-0");
  CHECK(client.ListContainers(R"(labels."zlayer.deployment"!=web,labels."zlayer.deployment")")
            ->at(0)
            .id == "db-0");
  REQUIRE(client.DeleteContainer("other").ok());
  CHECK(client.GetContainer("other").status().code() == StatusCode::kNotFound);
}

TEST_CASE("Tasks start, exit on kill with 128+signal, publish their exit, and are deleted") {
  FakeClient client;
  std::vector<Event> events;
  std::vector<Status> ends;
  auto subscription = client.SubscribeEvents(
      {R"(topic=="/tasks/exit")", R"(topic=="/tasks/start")"},
      [&](const Event& e) { events.push_back(e); }, [&](const Status& s) { ends.push_back(s); });
  REQUIRE(client.CreateContainer(Container("web-0"), "").ok());
  CHECK(client.CreateTask({"nope", {}, "", "", "", false}).status().code() ==
        StatusCode::kNotFound);
  Result<pid_t> pid = client.CreateTask({"web-0", {}, "", "/fifo/out", "/fifo/err", false});
  REQUIRE(pid.ok());
  CHECK(client.GetTask("web-0")->status == TaskStatus::kCreated);
  CHECK(*client.StartTask("web-0", "") == *pid);
  CHECK(client.GetTask("web-0")->status == TaskStatus::kRunning);
  CHECK(client.GetTask("web-0")->stdout_path == "/fifo/out");
  CHECK(client.DeleteTask("web-0").status().code() == StatusCode::kUnknown);

  REQUIRE(client.KillTask("web-0", "", SIGTERM, false).ok());
  CHECK(client.GetTask("web-0")->status == TaskStatus::kStopped);
  CHECK(client.KillTask("web-0", "", SIGTERM, false).code() == StatusCode::kNotFound);
  REQUIRE(events.size() == 2);
  CHECK(events[0].topic == "/tasks/start");
  CHECK(events[1].topic == "/tasks/exit");
  CHECK(events[1].container_id == "web-0");
  CHECK(events[1].exec_id == "web-0");
  CHECK(events[1].exit_status == 128 + SIGTERM);
  CHECK(events[1].namespace_name == client.namespace_name());

  Result<ExitInfo> exit = client.DeleteTask("web-0");
  REQUIRE(exit.ok());
  CHECK(exit->exit_status == 128 + SIGTERM);
  CHECK(exit->pid == *pid);
  CHECK(client.ListTasks()->empty());

  subscription->Cancel();
  subscription->Cancel();
  CHECK(ends.size() == 1);
  CHECK(ends[0].ok());
}

TEST_CASE("A kill handler decides whether a process dies; ExitProcess scripts an exit") {
  FakeClient client;
  client.SetKillHandler([](const std::string&, const std::string&, int signal) {
    return signal == SIGKILL ? std::optional<uint32_t>(137) : std::nullopt;
  });
  REQUIRE(client.CreateContainer(Container("web-0"), "").ok());
  REQUIRE(client.CreateTask({"web-0", {}, "", "", "", false}).ok());
  REQUIRE(client.StartTask("web-0", "").ok());
  REQUIRE(client.KillTask("web-0", "", SIGTERM, false).ok());
  CHECK(client.GetTask("web-0")->status == TaskStatus::kRunning);
  REQUIRE(client.KillTask("web-0", "", SIGKILL, true).ok());
  CHECK(client.GetTask("web-0")->exit_status == 137);

  REQUIRE(client.CreateContainer(Container("job-0"), "").ok());
  REQUIRE(client.CreateTask({"job-0", {}, "", "", "", true}).ok());
  REQUIRE(client.StartTask("job-0", "").ok());
  REQUIRE(client.ResizePty("job-0", "", 80, 24).ok());
  REQUIRE(client.Exec({"job-0", "exec-1", "{}", "", "", "", false}).ok());
  CHECK(client.Exec({"job-0", "exec-1", "{}", "", "", "", false}).code() ==
        StatusCode::kAlreadyExists);
  Result<pid_t> exec_pid = client.StartTask("job-0", "exec-1");
  REQUIRE(exec_pid.ok());
  REQUIRE(client.CloseStdin("job-0", "exec-1").ok());
  CHECK(client.ResizePty("job-0", "exec-1", 80, 24).code() == StatusCode::kFailedPrecondition);
  REQUIRE(client.ExitProcess("job-0", "exec-1", 3).ok());
  CHECK(client.DeleteProcess("job-0", "exec-1")->exit_status == 3);
  REQUIRE(client.ExitProcess("job-0", "", 0).ok());
  CHECK(client.DeleteTask("job-0")->exit_status == 0);
}

TEST_CASE("A broken event stream ends every subscription with the reason") {
  FakeClient client;
  std::vector<Status> ends;
  int seen = 0;
  auto a = client.SubscribeEvents(
      {}, [&](const Event&) { ++seen; }, [&](const Status& s) { ends.push_back(s); });
  auto b = client.SubscribeEvents(
      {R"(event.container_id~=^web)"}, [&](const Event&) { ++seen; },
      [&](const Status& s) { ends.push_back(s); });
  Event e;
  e.topic = "/tasks/oom";
  e.container_id = "web-1";
  client.PublishEvent(e);
  CHECK(seen == 2);
  e.container_id = "db-1";
  client.PublishEvent(e);
  CHECK(seen == 3);
  client.BreakEventStreams(UnavailableError("containerd restarted"));
  REQUIRE(ends.size() == 2);
  CHECK(ends[0].code() == StatusCode::kUnavailable);
  client.PublishEvent(e);
  CHECK(seen == 3);
  a.reset();  // no second on_end
  CHECK(ends.size() == 2);

  client.FailNext(Method::kSubscribeEvents, UnavailableError("away"));
  auto c = client.SubscribeEvents(
      {}, [](const Event&) {}, [&](const Status& s) { ends.push_back(s); });
  REQUIRE(ends.size() == 3);
  CHECK(ends[2].code() == StatusCode::kUnavailable);
}

TEST_CASE("Namespaces keep labels and versions can be scripted") {
  FakeClient client("ns1");
  CHECK(client.namespace_name() == "ns1");
  REQUIRE(client.EnsureNamespace({{"containerd.io/defaults/snapshotter", "native"}}).ok());
  REQUIRE(client.EnsureNamespace({{"other", "x"}}).ok());
  CHECK(client.NamespaceLabels().size() == 2);
  client.SetVersion({"v1.6.99", "abc"});
  CHECK(client.Version()->version == "v1.6.99");
}

TEST_CASE("WaitProcess returns a process's exit once it happens, and times out while it runs") {
  FakeClient client;
  REQUIRE(client.CreateContainer(Container("job-0"), "").ok());
  REQUIRE(client.CreateTask({"job-0", {}, "", "", "", false}).ok());
  REQUIRE(client.StartTask("job-0", "").ok());
  ExecRequest exec;
  exec.container_id = "job-0";
  exec.exec_id = "exec-1";
  REQUIRE(client.Exec(exec).ok());
  REQUIRE(client.StartTask("job-0", "exec-1").ok());
  CHECK(client.WaitProcess("job-0", "exec-1", std::chrono::milliseconds(1)).status().code() ==
        StatusCode::kDeadlineExceeded);
  bool exited = false;  // Catch2 assertions are not thread-safe: checked after join
  std::thread exiter([&] { exited = client.ExitProcess("job-0", "exec-1", 7).ok(); });
  auto exit = client.WaitProcess("job-0", "exec-1", std::chrono::seconds(60));
  exiter.join();
  CHECK(exited);
  REQUIRE(exit.ok());
  CHECK(exit->exit_status == 7);
  // After the exit, at once.
  CHECK(client.WaitProcess("job-0", "exec-1", std::chrono::milliseconds(0))->exit_status == 7);
  CHECK(client.WaitProcess("job-0", "nope", std::chrono::seconds(1)).status().code() ==
        StatusCode::kNotFound);
}
