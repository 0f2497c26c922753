#include "agent/containerd/content_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <thread>
#include <vector>

#include "agent/containerd/grpc_call.h"
#include "agent/containerd/proto_conversions.h"

namespace zlayer::containerd {

namespace {

namespace content_v1 = ::containerd::services::content::v1;

using WriteStream = grpc::ClientReaderWriterInterface<content_v1::WriteContentRequest,
                                                      content_v1::WriteContentResponse>;

constexpr size_t kChunkSize = 1 << 20;  // what the Go client sends per WRITE
constexpr int64_t kSlowestBytesPerSecond = 256 * 1024;
constexpr int kFirstLockedBackoffMs = 16;
constexpr int kMaxLockedBackoffMs = 2048;

// Ends a stream as containerd's server needs: no more requests, then read to
// the end (the server sends its final response twice), then Finish.
grpc::Status FinishStream(WriteStream& stream) {
  stream.WritesDone();
  content_v1::WriteContentResponse ignored;
  while (stream.Read(&ignored)) {
  }
  return stream.Finish();
}

// One request, one response: the lock-step the server follows.
bool Exchange(WriteStream& stream, const content_v1::WriteContentRequest& request,
              content_v1::WriteContentResponse* response) {
  return stream.Write(request) && stream.Read(response);
}

bool IsRefLocked(const Status& status) {
  return status.code() == StatusCode::kUnavailable &&
         status.message().find("locked") != std::string::npos;
}

// What one attempt (one stream) ended with.
struct AttemptResult {
  Status status;
  bool source_used = false;  // Seek or Read was called: the attempt cannot simply be repeated
};

class BlobWriteAttempt {
 public:
  BlobWriteAttempt(ContentStub& stub, const std::string& namespace_name,
                   std::chrono::milliseconds call_timeout, const std::string& ref,
                   const Descriptor& expected, BlobSource& source, const Labels& labels,
                   const std::string& lease)
      : stub_(stub),
        namespace_name_(namespace_name),
        call_timeout_(call_timeout),
        ref_(ref),
        expected_(expected),
        source_(source),
        labels_(labels),
        lease_(lease) {}

  AttemptResult Run() {
    grpc::ClientContext context;
    PrepareContext(
        context, namespace_name_,
        {TimeoutForBytes(call_timeout_, expected_.size, kSlowestBytesPerSecond), lease_});
    std::unique_ptr<WriteStream> stream = stub_.Write(&context);

    content_v1::WriteContentRequest stat;
    stat.set_action(content_v1::STAT);
    stat.set_ref(ref_);
    stat.set_total(expected_.size);
    stat.set_expected(expected_.digest);
    content_v1::WriteContentResponse response;
    // ALREADY_EXISTS (the blob is there) and "ref locked" both end the stream here.
    if (!Exchange(*stream, stat, &response)) return Failed(*stream);

    int64_t offset = response.offset();
    if (offset > expected_.size) {
      offset = 0;  // an ingest longer than the blob is garbage: a WRITE at 0 truncates it
    }
    // The ingest may already hold the whole blob (a resume after the last
    // WRITE, or a blob shared from another namespace): then only COMMIT is left.
    const bool ingest_complete = offset > 0 && offset == expected_.size;
    if (offset > 0 && !ingest_complete) {
      source_used_ = true;
      if (Status seek = source_.Seek(offset); !seek.ok()) {
        return Abandon(context, *stream,
                       seek.Wrap(fmt::format("{}: resuming at {}", Name(), offset)));
      }
    }

    std::vector<char> buffer(ingest_complete ? 0 : kChunkSize);
    while (!ingest_complete) {
      source_used_ = true;
      Result<size_t> read = source_.Read(buffer.data(), buffer.size());
      if (!read.ok()) {
        return Abandon(context, *stream,
                       read.status().Wrap(fmt::format("{}: reading the blob", Name())));
      }
      if (*read == 0) break;
      content_v1::WriteContentRequest write;
      write.set_action(content_v1::WRITE);
      write.set_offset(offset);
      write.set_data(buffer.data(), *read);
      if (!Exchange(*stream, write, &response)) return Failed(*stream);
      if (response.offset() != offset + static_cast<int64_t>(*read)) {
        return Abandon(context, *stream,
                       Status(StatusCode::kDataLoss,
                              fmt::format("{}: short write at {}: containerd has {} bytes", Name(),
                                          offset, response.offset())));
      }
      offset = response.offset();
    }

    content_v1::WriteContentRequest commit;
    commit.set_action(content_v1::COMMIT);
    commit.set_total(expected_.size);
    commit.set_offset(offset);
    commit.set_expected(expected_.digest);
    ToProtoLabels(labels_, commit.mutable_labels());
    if (!Exchange(*stream, commit, &response)) {
      AttemptResult result = Failed(*stream);
      // A mismatch leaves the bad bytes in the ingest; resuming would only
      // commit them again, so start the next write of this ref from zero.
      if (result.status.code() == StatusCode::kFailedPrecondition) Abort();
      return result;
    }
    if (response.digest() != expected_.digest || response.offset() != expected_.size) {
      return Abandon(context, *stream,
                     Status(StatusCode::kDataLoss,
                            fmt::format("{}: committed {} bytes as {}, expected {} bytes as {}",
                                        Name(), response.offset(), response.digest(),
                                        expected_.size, expected_.digest)));
    }
    return {FromGrpcStatus(FinishStream(*stream), "content.write", ref_), source_used_};
  }

 private:
  std::string Name() const { return CallName("content.write", ref_); }

  AttemptResult Failed(WriteStream& stream) {
    return {FromGrpcStatus(FinishStream(stream), "content.write", ref_), source_used_};
  }

  // Ends the stream without COMMIT; the bytes written so far stay in the
  // ingest, ready for a resume.
  AttemptResult Abandon(grpc::ClientContext& context, WriteStream& stream, Status why) {
    context.TryCancel();
    (void)FinishStream(stream);
    return {std::move(why), source_used_};
  }

  void Abort() {
    grpc::ClientContext context;
    PrepareContext(context, namespace_name_, {call_timeout_, lease_});
    content_v1::AbortRequest request;
    request.set_ref(ref_);
    google::protobuf::Empty empty;
    (void)stub_.Abort(&context, request, &empty);  // best effort: the error is the mismatch
  }

  ContentStub& stub_;
  const std::string& namespace_name_;
  const std::chrono::milliseconds call_timeout_;
  const std::string& ref_;
  const Descriptor& expected_;
  BlobSource& source_;
  const Labels& labels_;
  const std::string& lease_;
  bool source_used_ = false;
};

}  // namespace

Status WriteContentBlob(ContentStub& stub, const std::string& namespace_name,
                        std::chrono::milliseconds call_timeout, const std::string& ref,
                        const Descriptor& expected, BlobSource& source, const Labels& labels,
                        const std::string& lease) {
  const auto give_up_at = std::chrono::steady_clock::now() + call_timeout;
  std::mt19937 random(std::random_device{}());
  int backoff_ms = kFirstLockedBackoffMs;
  AttemptResult result;
  for (;;) {
    result =
        BlobWriteAttempt(stub, namespace_name, call_timeout, ref, expected, source, labels, lease)
            .Run();
    if (!IsRefLocked(result.status) || result.source_used ||
        std::chrono::steady_clock::now() >= give_up_at) {
      break;
    }
    // Another stream holds the ref (often our own previous, cancelled one
    // that the server has not closed yet): wait as the Go client does.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, backoff_ms)(random)));
    backoff_ms = std::min(backoff_ms * 2, kMaxLockedBackoffMs);
  }
  if (result.status.code() == StatusCode::kAlreadyExists) {
    return UpdateContentLabels(stub, namespace_name, call_timeout, expected.digest, labels, lease);
  }
  return result.status;
}

Status UpdateContentLabels(ContentStub& stub, const std::string& namespace_name,
                           std::chrono::milliseconds call_timeout, const std::string& digest,
                           const Labels& labels, const std::string& lease) {
  if (labels.empty()) return Status::Ok();
  grpc::ClientContext context;
  PrepareContext(context, namespace_name, {call_timeout, lease});
  content_v1::UpdateRequest request;
  request.mutable_info()->set_digest(digest);
  ToProtoLabels(labels, request.mutable_info()->mutable_labels());
  for (const auto& [key, value] : labels) request.mutable_update_mask()->add_paths("labels." + key);
  content_v1::UpdateResponse response;
  return FromGrpcStatus(stub.Update(&context, request, &response), "content.update", digest);
}

}  // namespace zlayer::containerd
