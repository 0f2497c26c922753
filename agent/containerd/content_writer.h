// Private to zlayer_containerd: the Content.Write stream protocol and content
// label updates (containerd-client-notes §4).
#pragma once

#include <chrono>
#include <string>

#include "agent/containerd/client.h"
#include "agent/containerd/types.h"
#include "common/status.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.grpc.pb.h"

namespace zlayer::containerd {

using ContentStub = ::containerd::services::content::v1::Content::StubInterface;

// Writes one blob as Client::WriteContent promises:
//  - STAT first; when containerd already holds `offset` bytes of `ref`, the
//    source is Seek()ed there and the write continues (resume);
//  - WRITE in chunks of at most 1 MiB, then COMMIT with size, digest and labels;
//  - a blob that already exists is success, and `labels` are then set with an
//    Update (COMMIT labels are dropped in that case);
//  - a size or digest mismatch at COMMIT is kFailedPrecondition, and the ingest
//    is aborted so that the next write of `ref` starts from zero;
//  - "ref locked" (another writer holds `ref`) is retried with a random
//    back-off (up to ~2 s per wait) until `call_timeout` has passed;
//  - a source error ends the stream without COMMIT (what was written stays in
//    the ingest for a later resume) and is returned, wrapped.
// The stream's deadline is `call_timeout` plus the time to move the blob at
// 256 KiB/s, so a big layer from a slow source still fits while a hung daemon
// cannot block forever.
Status WriteContentBlob(ContentStub& stub, const std::string& namespace_name,
                        std::chrono::milliseconds call_timeout, const std::string& ref,
                        const Descriptor& expected, BlobSource& source, const Labels& labels,
                        const std::string& lease);

// Sets (empty value: removes) each label of `labels` on blob `digest` with one
// Content.Update whose mask lists `labels.<key>`, so other labels stay. Does
// nothing for empty `labels` (an empty mask would replace all labels).
Status UpdateContentLabels(ContentStub& stub, const std::string& namespace_name,
                           std::chrono::milliseconds call_timeout, const std::string& digest,
                           const Labels& labels, const std::string& lease);

}  // namespace zlayer::containerd
