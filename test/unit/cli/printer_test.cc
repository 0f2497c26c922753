// LogPrinter (zlayer logs) and ProgressView (zlayer pull / image import).
#include <catch2/catch.hpp>

#include "cmd/zlayer/log_printer.h"
#include "cmd/zlayer/progress_view.h"

namespace v1 = zlayer::v1;
using namespace std::chrono_literals;

namespace {

struct Captured {
  std::string out;
  std::string err;
  std::vector<std::string> writes;
};

zlayer::cli::LogPrinter::Writer Capture(Captured& c) {
  return [&c](int fd, std::string_view bytes) {
    (fd == 2 ? c.err : c.out) += bytes;
    c.writes.emplace_back(bytes);
  };
}

v1::LogEntry Entry(const char* container, const char* line,
                   v1::LogStream stream = v1::LOG_STREAM_STDOUT, bool partial = false) {
  v1::LogEntry e;
  e.set_container_id(container);
  e.set_line(line);
  e.set_stream(stream);
  e.set_partial(partial);
  return e;
}

}  // namespace

TEST_CASE("Given lines of one container, logs prints them raw, stderr to stderr") {
  Captured c;
  zlayer::cli::LogPrinter printer(Capture(c));
  printer.Print(Entry("hello-web-0", "GET /"));
  printer.Print(Entry("hello-web-0", "oops", v1::LOG_STREAM_STDERR));
  printer.Finish();
  CHECK(c.out == "GET /\n");
  CHECK(c.err == "oops\n");
  CHECK_FALSE(printer.prefixing());
}

TEST_CASE("Given a second container, every line from then on carries `container | `") {
  Captured c;
  zlayer::cli::LogPrinter printer(Capture(c));
  printer.Print(Entry("hello-web-0", "a"));
  printer.Print(Entry("hello-web-1", "b"));
  printer.Print(Entry("hello-web-0", "c"));
  CHECK(c.out == "a\nhello-web-1 | b\nhello-web-0 | c\n");
  CHECK(printer.prefixing());
}

TEST_CASE("A partial entry continues in the next entry of its container, once prefixed") {
  Captured c;
  zlayer::cli::LogPrinter printer(Capture(c));
  printer.Print(Entry("w-0", "x"));
  printer.Print(Entry("w-1", "long ", v1::LOG_STREAM_STDOUT, true));
  printer.Print(Entry("w-1", "line"));
  printer.Print(Entry("w-0", "cut", v1::LOG_STREAM_STDOUT, true));
  printer.Print(Entry("w-1", "next"));  // another container closes the open line
  printer.Print(Entry("w-1", "end", v1::LOG_STREAM_STDOUT, true));
  printer.Finish();
  CHECK(c.out == "x\nw-1 | long line\nw-0 | cut\nw-1 | next\nw-1 | end\n");
  // Each complete line is written in one call so stdout and stderr do not tear.
  CHECK(c.writes[0] == "x\n");
}

TEST_CASE("Off a terminal, progress prints one line per phase change, none for bytes") {
  std::string out;
  zlayer::cli::ProgressView view(false, [&](std::string_view s) { out += s; });
  auto t0 = std::chrono::steady_clock::time_point();
  v1::BlobProgress p;
  p.set_digest("sha256:aaaaaaaaaaaabbbb");
  p.set_media_type("application/vnd.oci.image.layer.v1.tar+gzip");
  p.set_size(4 << 20);
  p.set_phase(v1::BlobProgress::PHASE_WAITING);
  view.Update(p, t0);
  p.set_phase(v1::BlobProgress::PHASE_FETCHING);
  view.Update(p, t0);
  p.set_offset(1 << 20);
  view.Update(p, t0 + 1s);
  p.set_offset(4 << 20);
  p.set_phase(v1::BlobProgress::PHASE_VERIFIED);
  view.Update(p, t0 + 2s);
  p.set_phase(v1::BlobProgress::PHASE_UNPACKED);
  view.Update(p, t0 + 3s);

  v1::BlobProgress config;
  config.set_digest("sha256:cccccccccccc");
  config.set_media_type("application/vnd.oci.image.config.v1+json");
  config.set_phase(v1::BlobProgress::PHASE_EXISTS);
  view.Update(config, t0 + 3s);
  CHECK(out ==
        "layer aaaaaaaaaaaa: fetching 4.0MiB\n"
        "layer aaaaaaaaaaaa: verified (4.0MiB in 2.0s)\n"
        "layer aaaaaaaaaaaa: unpacked\n"
        "config cccccccccccc: already present\n");
}

TEST_CASE("An import reads a local file: no fetching, nothing resumed") {
  std::string out;
  zlayer::cli::ProgressView view(
      false, [&](std::string_view s) { out += s; }, zlayer::cli::ProgressSource::kImport);
  auto t0 = std::chrono::steady_clock::time_point();
  v1::BlobProgress p;
  p.set_digest("sha256:aaaaaaaaaaaabbbb");
  p.set_media_type("application/vnd.oci.image.layer.v1.tar+gzip");
  p.set_size(4 << 20);
  p.set_offset(1 << 20);  // the first report of an import may come mid-file
  p.set_phase(v1::BlobProgress::PHASE_FETCHING);
  view.Update(p, t0);
  CHECK(out == "layer aaaaaaaaaaaa: reading 4.0MiB\n");
  CHECK_THAT(view.BarLine(p, std::nullopt), Catch::Contains("reading"));
}

TEST_CASE("A pull that continues an interrupted one says where it resumes") {
  std::string out;
  zlayer::cli::ProgressView view(false, [&](std::string_view s) { out += s; });
  v1::BlobProgress p;
  p.set_digest("sha256:aaaaaaaaaaaabbbb");
  p.set_media_type("application/vnd.oci.image.layer.v1.tar+gzip");
  p.set_size(4 << 20);
  p.set_offset(1 << 20);
  p.set_phase(v1::BlobProgress::PHASE_FETCHING);
  view.Update(p, std::chrono::steady_clock::time_point());
  CHECK(out == "layer aaaaaaaaaaaa: fetching 4.0MiB (resuming at 1.0MiB)\n");
}

TEST_CASE("On a terminal, progress redraws one bar per blob in place") {
  std::string out;
  zlayer::cli::ProgressView view(true, [&](std::string_view s) { out += s; });
  auto t0 = std::chrono::steady_clock::time_point();
  google::protobuf::RepeatedPtrField<v1::BlobProgress> blobs;
  for (const char* digest : {"sha256:111111111111", "sha256:222222222222"}) {
    auto* b = blobs.Add();
    b->set_digest(digest);
    b->set_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip");
    b->set_size(1000);
    b->set_phase(v1::BlobProgress::PHASE_WAITING);
  }
  view.Expect(blobs, t0);
  out.clear();
  v1::BlobProgress p = blobs[0];
  p.set_phase(v1::BlobProgress::PHASE_FETCHING);
  p.set_offset(500);
  view.Update(p, t0 + 1s);
  CHECK_THAT(out, Catch::StartsWith("\x1b[2A\r\x1b[2K"));
  CHECK_THAT(out, Catch::Contains("layer    111111111111  fetching  [===========>            ] "
                                  "500B/1000B"));
  CHECK_THAT(out, Catch::Contains("layer    222222222222  waiting   [                        ]"));
  view.Close();
  out.clear();
  view.Update(p, t0 + 2s);
  CHECK(out.empty());
}

TEST_CASE("Blob kinds are told from OCI and Docker media types") {
  struct Case {
    const char* media_type;
    const char* kind;
  };
  for (const Case& c :
       std::vector<Case>{{"application/vnd.oci.image.index.v1+json", "index"},
                         {"application/vnd.docker.distribution.manifest.list.v2+json", "index"},
                         {"application/vnd.oci.image.manifest.v1+json", "manifest"},
                         {"application/vnd.docker.distribution.manifest.v2+json", "manifest"},
                         {"application/vnd.oci.image.config.v1+json", "config"},
                         {"application/vnd.docker.container.image.v1+json", "config"},
                         {"application/vnd.oci.image.layer.v1.tar+zstd", "layer"},
                         {"application/vnd.docker.image.rootfs.diff.tar.gzip", "layer"},
                         {"", "blob"}}) {
    CHECK(zlayer::cli::BlobKind(c.media_type) == c.kind);
  }
}
