// How `zlayer pull` and `zlayer image import` show blob progress.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zlayer/v1/agent.pb.h"

namespace zlayer::cli {

// On a terminal: one line per blob (kind, short digest, phase, a bar, bytes, rate),
// redrawn in place with ANSI cursor movement whenever a blob changes. Otherwise: one
// plain line per phase change ("layer 0123456789ab: verified (40.1MiB in 3.2s)");
// byte-count updates alone print nothing, so logs stay short.
//
// Not thread-safe. The caller passes the time of each update so tests are exact.
// Where the bytes come from, which decides the words: a pull fetches from a registry
// ("fetching 4.0MiB (resuming at 1.0MiB)"); an import reads a local file ("reading 4.0MiB",
// nothing to resume).
enum class ProgressSource { kPull, kImport };

class ProgressView {
 public:
  using Writer = std::function<void(std::string_view)>;
  using TimePoint = std::chrono::steady_clock::time_point;

  ProgressView(bool terminal, Writer write, ProgressSource source = ProgressSource::kPull)
      : terminal_(terminal), write_(std::move(write)), source_(source) {}

  // Announces the blobs to come, in order (a pull's `resolved`). Optional: unknown blobs
  // are added as their first update arrives.
  void Expect(const google::protobuf::RepeatedPtrField<v1::BlobProgress>& blobs, TimePoint now);
  void Update(const v1::BlobProgress& progress, TimePoint now);
  // Stops redrawing: output written after this goes below the bars. Idempotent.
  void Close();

  // The line of one blob as drawn on a terminal (exposed for tests).
  std::string BarLine(const v1::BlobProgress& progress,
                      std::optional<double> bytes_per_second) const;

 private:
  struct Blob {
    v1::BlobProgress last;
    std::optional<TimePoint> fetch_start;
    int64_t fetch_start_offset = 0;
    TimePoint updated;
  };
  std::optional<double> Rate(const Blob& blob) const;
  void Redraw();
  void PrintPhaseLine(const Blob& blob);

  bool terminal_;
  Writer write_;
  ProgressSource source_;
  std::vector<Blob> blobs_;
  std::map<std::string, size_t> index_;  // digest -> blobs_ index
  size_t drawn_ = 0;                     // lines of the block currently on screen
  bool closed_ = false;
};

// "manifest", "index", "config", "layer" or "blob", from a media type.
std::string BlobKind(std::string_view media_type);

}  // namespace zlayer::cli
