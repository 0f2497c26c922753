#include "cmd/zlayer/progress_view.h"

#include <fmt/format.h>

#include <algorithm>

#include "cmd/zlayer/format.h"

namespace zlayer::cli {

namespace {

constexpr int kBarWidth = 24;

std::string PhaseText(v1::BlobProgress::Phase phase, ProgressSource source) {
  switch (phase) {
    case v1::BlobProgress::PHASE_WAITING:
      return "waiting";
    case v1::BlobProgress::PHASE_FETCHING:
      return source == ProgressSource::kImport ? "reading" : "fetching";
    case v1::BlobProgress::PHASE_EXISTS:
      return "exists";
    case v1::BlobProgress::PHASE_VERIFIED:
      return "verified";
    case v1::BlobProgress::PHASE_UNPACKING:
      return "unpacking";
    case v1::BlobProgress::PHASE_UNPACKED:
      return "unpacked";
    default:
      return "-";
  }
}

bool Done(v1::BlobProgress::Phase phase) {
  return phase == v1::BlobProgress::PHASE_EXISTS || phase == v1::BlobProgress::PHASE_VERIFIED ||
         phase == v1::BlobProgress::PHASE_UNPACKING || phase == v1::BlobProgress::PHASE_UNPACKED;
}

}  // namespace

std::string BlobKind(std::string_view media_type) {
  if (media_type.find("index") != std::string_view::npos ||
      media_type.find("manifest.list") != std::string_view::npos) {
    return "index";
  }
  auto has = [&](std::string_view part) { return media_type.find(part) != std::string_view::npos; };
  if (has("manifest")) return "manifest";
  // OCI `...image.config.v1+json`; Docker `...container.image.v1+json`.
  if (has("config") || has("container.image")) return "config";
  // OCI `...image.layer.v1.tar+gzip`; Docker `...image.rootfs.diff.tar.gzip`.
  if (has("layer") || has("rootfs")) return "layer";
  return "blob";
}

void ProgressView::Expect(const google::protobuf::RepeatedPtrField<v1::BlobProgress>& blobs,
                          TimePoint now) {
  for (const auto& b : blobs) {
    if (index_.count(b.digest()) > 0) continue;
    index_[b.digest()] = blobs_.size();
    blobs_.push_back({b, std::nullopt, 0, now});
  }
  if (terminal_ && !closed_) Redraw();
}

void ProgressView::Update(const v1::BlobProgress& progress, TimePoint now) {
  auto it = index_.find(progress.digest());
  if (it == index_.end()) {
    it = index_.emplace(progress.digest(), blobs_.size()).first;
    blobs_.push_back({v1::BlobProgress(), std::nullopt, 0, now});
  }
  Blob& blob = blobs_[it->second];
  bool phase_changed = blob.last.phase() != progress.phase();
  // Keep what an announcement knew and a later update left out.
  std::string media_type = blob.last.media_type();
  int64_t size = blob.last.size();
  blob.last = progress;
  if (blob.last.media_type().empty()) blob.last.set_media_type(media_type);
  if (blob.last.size() == 0) blob.last.set_size(size);
  if (progress.phase() == v1::BlobProgress::PHASE_FETCHING && !blob.fetch_start) {
    blob.fetch_start = now;
    blob.fetch_start_offset = progress.offset();
  }
  blob.updated = now;
  if (closed_) return;
  if (terminal_) {
    Redraw();
  } else if (phase_changed) {
    PrintPhaseLine(blob);
  }
}

void ProgressView::Close() {
  closed_ = true;
  drawn_ = 0;
}

std::optional<double> ProgressView::Rate(const Blob& blob) const {
  if (!blob.fetch_start) return std::nullopt;
  double seconds = std::chrono::duration<double>(blob.updated - *blob.fetch_start).count();
  if (seconds < 0.5) return std::nullopt;
  int64_t end = Done(blob.last.phase()) ? blob.last.size() : blob.last.offset();
  return static_cast<double>(end - blob.fetch_start_offset) / seconds;
}

std::string ProgressView::BarLine(const v1::BlobProgress& p,
                                  std::optional<double> bytes_per_second) const {
  int filled = 0;
  if (Done(p.phase())) {
    filled = kBarWidth;
  } else if (p.phase() == v1::BlobProgress::PHASE_FETCHING && p.size() > 0) {
    filled = static_cast<int>(std::clamp<int64_t>(p.offset() * kBarWidth / p.size(), 0, kBarWidth));
  }
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kBarWidth) {
    if (filled > 0) bar.back() = '>';
    bar.append(static_cast<size_t>(kBarWidth - filled), ' ');
  }
  std::string bytes;
  if (p.phase() == v1::BlobProgress::PHASE_FETCHING) {
    bytes = FormatBytes(p.offset()) + "/" + FormatBytes(p.size());
  } else if (p.size() > 0) {
    bytes = FormatBytes(p.size());
  }
  std::string line =
      fmt::format("{:<8} {:<12}  {:<9} [{}] {}", BlobKind(p.media_type()), ShortDigest(p.digest()),
                  PhaseText(p.phase(), source_), bar, bytes);
  if (p.phase() == v1::BlobProgress::PHASE_FETCHING && bytes_per_second) {
    line += "  " + FormatBytes(static_cast<int64_t>(*bytes_per_second)) + "/s";
  }
  return line;
}

void ProgressView::Redraw() {
  std::string out;
  // Back to the first line of the block, then rewrite every line.
  if (drawn_ > 0) out += fmt::format("\x1b[{}A", drawn_);
  for (const Blob& b : blobs_) out += "\r\x1b[2K" + BarLine(b.last, Rate(b)) + "\n";
  drawn_ = blobs_.size();
  write_(out);
}

void ProgressView::PrintPhaseLine(const Blob& blob) {
  const auto& p = blob.last;
  std::string head = fmt::format("{} {}: ", BlobKind(p.media_type()), ShortDigest(p.digest()));
  std::string text;
  switch (p.phase()) {
    case v1::BlobProgress::PHASE_WAITING:
      return;  // queued: nothing a reader of logs needs
    case v1::BlobProgress::PHASE_FETCHING:
      text = PhaseText(p.phase(), source_) + " " + FormatBytes(p.size());
      // Only a pull resumes; an import's first report may simply come mid-file.
      if (source_ == ProgressSource::kPull && p.offset() > 0) {
        text += " (resuming at " + FormatBytes(p.offset()) + ")";
      }
      break;
    case v1::BlobProgress::PHASE_EXISTS:
      text = "already present";
      break;
    case v1::BlobProgress::PHASE_VERIFIED:
      text = "verified (" + FormatBytes(p.size());
      if (blob.fetch_start) text += " in " + FormatSpan(blob.updated - *blob.fetch_start);
      text += ")";
      break;
    default:
      text = PhaseText(p.phase(), source_);
      break;
  }
  write_(head + text + "\n");
}

}  // namespace zlayer::cli
