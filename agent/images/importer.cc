#include "agent/images/importer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "agent/images/containerd_mapping.h"
#include "agent/images/content_helpers.h"
#include "agent/oci/digest.h"
#include "agent/oci/manifest.h"
#include "agent/oci/reference.h"

namespace zlayer::images {
namespace {

using containerd::Labels;
using oci::Descriptor;

constexpr std::chrono::hours kImportLeaseExpiry{24};
constexpr size_t kChunk = 1 << 20;
constexpr int kMaxLinkDepth = 8;

Status DataLossError(std::string message) { return {StatusCode::kDataLoss, std::move(message)}; }

// Archive member names as Go's path.Clean sees them: no leading "./" or "/",
// no empty or "." components, ".." resolved.
std::string CleanPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(begin, end - begin);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.emplace_back(part);
    }
    begin = end + 1;
  }
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// One sequential read of the archive through libarchive (tar, any compression).
class ArchiveReader {
 public:
  static Result<std::unique_ptr<ArchiveReader>> Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError("open");
    std::unique_ptr<ArchiveReader> reader(new ArchiveReader(fd));
    archive_read_support_filter_all(reader->a_);
    archive_read_support_format_tar(reader->a_);
    if (archive_read_open_fd(reader->a_, fd, 64 * 1024) != ARCHIVE_OK) {
      return InvalidArgumentError("not a tar archive (" + reader->Error() + ")");
    }
    return reader;
  }
  ~ArchiveReader() {
    archive_read_free(a_);
    ::close(fd_);
  }
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  // Advances to the next member; false at the end of the archive.
  Result<bool> Next() {
    int rc = archive_read_next_header(a_, &entry_);
    if (rc == ARCHIVE_EOF) return false;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      if (first_) return InvalidArgumentError("not a tar archive (" + Error() + ")");
      return InvalidArgumentError("unreadable archive member (" + Error() + ")");
    }
    first_ = false;
    return true;
  }

  std::string Path() const { return CleanPath(archive_entry_pathname(entry_)); }
  int64_t Size() const { return archive_entry_size(entry_); }
  bool IsRegular() const { return archive_entry_filetype(entry_) == AE_IFREG && !HardLink(); }
  // The member a hard link or symlink points to, as a clean archive path; ""
  // for other members.
  std::string LinkTarget() const {
    if (const char* hard = HardLink()) return CleanPath(hard);
    if (archive_entry_filetype(entry_) == AE_IFLNK && archive_entry_symlink(entry_)) {
      std::string target = archive_entry_symlink(entry_);
      if (target.starts_with("/")) return CleanPath(target);
      return CleanPath(DirName(Path()) + "/" + target);
    }
    return "";
  }

  Result<size_t> Read(char* buffer, size_t size) {
    la_ssize_t n = archive_read_data(a_, buffer, size);
    if (n < 0) return DataLossError("read " + Path() + ": " + Error());
    return static_cast<size_t>(n);
  }

 private:
  explicit ArchiveReader(int fd) : a_(archive_read_new()), fd_(fd) {}
  const char* HardLink() const { return archive_entry_hardlink(entry_); }
  std::string Error() const {
    const char* e = archive_error_string(a_);
    return e ? e : "unknown libarchive error";
  }

  struct archive* a_;
  int fd_;
  struct archive_entry* entry_ = nullptr;
  bool first_ = true;
};

// A regular archive member as pass 1 saw it.
struct Member {
  int64_t size = 0;
  std::string digest;
  std::string magic;                // the first bytes, to detect compression
  std::optional<std::string> json;  // the bytes, for small documents starting with { or [
};

struct Scan {
  std::map<std::string, Member> files;
  std::map<std::string, std::string> links;  // link path → target path
};

// Pass 1: hash every regular member, keep small JSON documents.
Result<Scan> ScanArchive(const std::string& tar_path) {
  Result<std::unique_ptr<ArchiveReader>> opened = ArchiveReader::Open(tar_path);
  if (!opened.ok()) return opened.status();
  ArchiveReader& reader = **opened;
  Scan scan;
  std::string buffer(kChunk, '\0');
  while (true) {
    Result<bool> more = reader.Next();
    if (!more.ok()) return more.status();
    if (!*more) break;
    std::string path = reader.Path();
    if (std::string target = reader.LinkTarget(); !target.empty()) {
      scan.links[path] = target;
      continue;
    }
    if (!reader.IsRegular()) continue;
    Member member;
    oci::Sha256 hash;
    bool keep = reader.Size() <= oci::kMaxManifestSize;
    std::string data;
    while (true) {
      Result<size_t> n = reader.Read(buffer.data(), buffer.size());
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      hash.Update(buffer.data(), *n);
      if (member.size == 0) {
        member.magic = buffer.substr(0, std::min<size_t>(*n, 8));
        size_t first = buffer.find_first_not_of(" \t\r\n");
        keep = keep && first < *n && (buffer[first] == '{' || buffer[first] == '[');
      }
      if (keep) data.append(buffer.data(), *n);
      member.size += static_cast<int64_t>(*n);
    }
    if (member.size != reader.Size()) {
      return DataLossError(
          fmt::format("{}: truncated ({} of {} bytes)", path, member.size, reader.Size()));
    }
    member.digest = hash.Finish();
    if (keep) member.json = std::move(data);
    scan.files[path] = std::move(member);
  }
  return scan;
}

// The member at `path`, following links; nullptr when absent. `resolved`
// receives the path of the regular member holding the bytes.
const Member* Lookup(const Scan& scan, std::string path, std::string* resolved) {
  for (int depth = 0; depth <= kMaxLinkDepth; ++depth) {
    auto file = scan.files.find(path);
    if (file != scan.files.end()) {
      *resolved = path;
      return &file->second;
    }
    auto link = scan.links.find(path);
    if (link == scan.links.end()) return nullptr;
    path = link->second;
  }
  return nullptr;
}

std::string LayerMediaTypeFromMagic(const std::string& magic) {
  if (magic.starts_with("\x1f\x8b")) return oci::kMediaTypeDockerLayerGzip;
  if (magic.starts_with("\x28\xb5\x2f\xfd")) return "application/vnd.oci.image.layer.v1.tar+zstd";
  return oci::kMediaTypeDockerLayer;
}

// A blob to write, in the order of `rank` (children before parents).
struct PlannedBlob {
  Descriptor descriptor;
  std::string kind;  // "layer", "config", "manifest", "index": names the write ref
  int rank = 0;
  std::string path;                 // the archive member with the bytes; "" if generated
  std::optional<std::string> data;  // the bytes, when held in memory
  Labels labels;
};

struct PlannedImage {
  std::string name;
  Descriptor target;
};

struct Plan {
  std::map<std::string, PlannedBlob> blobs;  // by digest
  std::vector<PlannedImage> images;
};

int RankOf(const std::string& kind) {
  if (kind == "layer") return 0;
  if (kind == "manifest") return 2;
  if (kind == "index") return 3;
  return 1;
}

std::string KindOf(const std::string& media_type) {
  if (oci::IsIndexMediaType(media_type)) return "index";
  if (oci::IsManifestMediaType(media_type)) return "manifest";
  if (oci::IsLayerMediaType(media_type)) return "layer";
  if (oci::IsConfigMediaType(media_type)) return "config";
  return "blob";
}

class Planner {
 public:
  Planner(const Scan& scan, const oci::Platform& platform, const ImportOptions& options)
      : scan_(scan), platform_(platform), options_(options) {}

  Result<Plan> Run() {
    if (scan_.files.count("oci-layout")) return PlanOci();
    if (scan_.files.count("manifest.json")) return PlanDocker();
    return InvalidArgumentError(
        "neither an OCI image layout (no oci-layout and index.json) nor a docker save archive "
        "(no manifest.json)");
  }

 private:
  Result<std::string> Json(const std::string& path, const Member& member) {
    if (!member.json) {
      return InvalidArgumentError(fmt::format("{}: not a JSON document (or larger than {} bytes)",
                                              path, oci::kMaxManifestSize));
    }
    return *member.json;
  }

  // The normalised form of `name`, checked for repetition.
  Status AddImage(const std::string& name, const Descriptor& target, const std::string& where) {
    Result<oci::Reference> ref = oci::ParseReference(name);
    if (!ref.ok()) return ref.status().Wrap(where);
    std::string full = ref->FullName();
    for (const PlannedImage& image : plan_.images) {
      if (image.name == full) {
        return InvalidArgumentError(fmt::format("{}: image name {} is given twice", where, full));
      }
    }
    plan_.images.push_back({full, Descriptor{target.media_type, target.digest, target.size, {}}});
    return Status::Ok();
  }

  Status AddBaseNamed(const std::string& tag, const Descriptor& target, const std::string& where,
                      const std::string& why) {
    if (options_.base_name.empty()) {
      return InvalidArgumentError(
          fmt::format("{} ({}) {}; import it with a base name to call it BASE:{}", where,
                      target.digest, why, tag.empty() ? "latest" : tag));
    }
    Result<oci::Reference> base = oci::ParseReference(options_.base_name);
    if (!base.ok()) return base.status().Wrap("base name");
    return AddImage(tag.empty() ? base->FullName() : base->Name() + ":" + tag, target, where);
  }

  // --- OCI image layout -------------------------------------------------------------

  Result<Plan> PlanOci() {
    const Member& layout = scan_.files.at("oci-layout");
    Result<std::string> layout_json = Json("oci-layout", layout);
    if (!layout_json.ok()) return layout_json.status();
    auto j = nlohmann::json::parse(*layout_json, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("imageLayoutVersion") ||
        !j["imageLayoutVersion"].is_string()) {
      return InvalidArgumentError("oci-layout: expected {\"imageLayoutVersion\": \"1.0.0\"}");
    }
    if (std::string version = j["imageLayoutVersion"]; version != "1.0.0") {
      return InvalidArgumentError("oci-layout: unsupported imageLayoutVersion " + version);
    }
    auto index_member = scan_.files.find("index.json");
    if (index_member == scan_.files.end()) {
      return InvalidArgumentError("an OCI image layout without index.json");
    }
    Result<std::string> index_json = Json("index.json", index_member->second);
    if (!index_json.ok()) return index_json.status();
    Result<oci::Index> index = oci::ParseIndex(*index_json);
    if (!index.ok()) return index.status().Wrap("index.json");
    if (index->manifests.empty()) return InvalidArgumentError("index.json: lists no images");
    for (size_t i = 0; i < index->manifests.size(); ++i) {
      const Descriptor& d = index->manifests[i];
      std::string where = fmt::format("index.json manifests[{}]", i);
      if (!oci::IsIndexMediaType(d.media_type) && !oci::IsManifestMediaType(d.media_type)) {
        return InvalidArgumentError(
            fmt::format("{}: unsupported media type {}", where, d.media_type));
      }
      ZLAYER_RETURN_IF_ERROR(NameOciEntry(d, where));
      ZLAYER_RETURN_IF_ERROR(Visit(d, /*required=*/true, "index.json"));
    }
    return plan_;
  }

  Status NameOciEntry(const Descriptor& d, const std::string& where) {
    auto image_name = d.annotations.find(oci::kAnnotationImageName);
    if (image_name != d.annotations.end()) {
      return AddImage(image_name->second, d, where + " " + oci::kAnnotationImageName);
    }
    auto ref_name = d.annotations.find(oci::kAnnotationRefName);
    if (ref_name == d.annotations.end()) {
      return AddBaseNamed("", d, where, "has no name annotation");
    }
    const std::string& ref = ref_name->second;
    if (ref.find_first_of("/:@") != std::string::npos) {
      return AddImage(ref, d, where + " " + oci::kAnnotationRefName);
    }
    return AddBaseNamed(
        ref, d, where,
        fmt::format("is named only by the tag \"{}\" ({})", ref, oci::kAnnotationRefName));
  }

  // Plans `d` and, for indexes and manifests, its children. A blob outside
  // the platform's manifest (another platform's) may be absent: exported
  // archives often hold one platform of a multi-platform index.
  Status Visit(const Descriptor& d, bool required, const std::string& referrer) {
    auto planned = plan_.blobs.find(d.digest);
    if (planned != plan_.blobs.end() && (!required || required_.count(d.digest))) {
      return Status::Ok();
    }
    std::string path = "blobs/sha256/" + d.digest.substr(7);
    std::string resolved;
    const Member* member = Lookup(scan_, path, &resolved);
    if (!member) {
      if (!required) return Status::Ok();
      return DataLossError(
          fmt::format("blob {} ({}) is missing; {} refers to it", d.digest, path, referrer));
    }
    if (member->digest != d.digest) {
      return DataLossError(fmt::format("{}: content hashes to {}, not to its name (corrupted?)",
                                       path, member->digest));
    }
    if (member->size != d.size) {
      return DataLossError(
          fmt::format("{}: {} bytes, but {} says {}", path, member->size, referrer, d.size));
    }
    if (required) required_.insert(d.digest);
    PlannedBlob blob;
    blob.descriptor = Descriptor{d.media_type, d.digest, d.size, {}};
    blob.kind = KindOf(d.media_type);
    blob.rank = RankOf(blob.kind);
    blob.path = resolved;
    if (blob.kind == "index" || blob.kind == "manifest" || blob.kind == "config") {
      Result<std::string> json = Json(path, *member);
      if (!json.ok()) return json.status();
      blob.data = *json;
    }
    std::string self = blob.kind + " " + d.digest;
    if (blob.kind == "index") {
      Result<oci::Index> index = oci::ParseIndex(*blob.data);
      if (!index.ok()) return index.status().Wrap(path);
      blob.labels = ChildGcLabels(*index);
      plan_.blobs[d.digest] = blob;
      std::optional<std::string> chosen;
      if (required) {
        Result<Descriptor> entry = oci::ChooseManifest(index->manifests, platform_);
        if (!entry.ok()) return entry.status().Wrap(path);
        chosen = entry->digest;
      }
      for (const Descriptor& child : index->manifests) {
        ZLAYER_RETURN_IF_ERROR(Visit(child, chosen == child.digest, self));
      }
    } else if (blob.kind == "manifest") {
      Result<oci::Manifest> manifest = oci::ParseManifest(*blob.data);
      if (!manifest.ok()) return manifest.status().Wrap(path);
      blob.labels = ChildGcLabels(*manifest);
      plan_.blobs[d.digest] = blob;
      ZLAYER_RETURN_IF_ERROR(Visit(manifest->config, required, self));
      for (const Descriptor& layer : manifest->layers) {
        ZLAYER_RETURN_IF_ERROR(Visit(layer, required, self));
      }
    } else {
      plan_.blobs[d.digest] = blob;
    }
    return Status::Ok();
  }

  // --- docker save -------------------------------------------------------------------

  Result<Plan> PlanDocker() {
    Result<std::string> text = Json("manifest.json", scan_.files.at("manifest.json"));
    if (!text.ok()) return text.status();
    auto entries = nlohmann::json::parse(*text, nullptr, false);
    if (entries.is_discarded() || !entries.is_array()) {
      return InvalidArgumentError("manifest.json: expected a JSON array");
    }
    if (entries.empty()) return InvalidArgumentError("manifest.json: lists no images");
    for (size_t i = 0; i < entries.size(); ++i) {
      ZLAYER_RETURN_IF_ERROR(PlanDockerEntry(entries[i], fmt::format("manifest.json[{}]", i)));
    }
    return plan_;
  }

  Status PlanDockerEntry(const nlohmann::json& entry, const std::string& where) {
    if (!entry.is_object() || !entry.contains("Config") || !entry["Config"].is_string()) {
      return InvalidArgumentError(where + ".Config: expected a file name");
    }
    if (!entry.contains("Layers") || !entry["Layers"].is_array()) {
      return InvalidArgumentError(where + ".Layers: expected an array of file names");
    }
    std::vector<std::string> tags;
    if (entry.contains("RepoTags") && !entry["RepoTags"].is_null()) {
      if (!entry["RepoTags"].is_array()) {
        return InvalidArgumentError(where + ".RepoTags: expected an array of names");
      }
      for (const auto& tag : entry["RepoTags"]) {
        if (!tag.is_string()) return InvalidArgumentError(where + ".RepoTags: expected strings");
        tags.push_back(tag.get<std::string>());
      }
    }

    std::string config_path = CleanPath(entry["Config"].get<std::string>());
    std::string resolved;
    const Member* config_member = Lookup(scan_, config_path, &resolved);
    if (!config_member) {
      return DataLossError(fmt::format("{}: config {} is missing", where, config_path));
    }
    Result<std::string> config_json = Json(config_path, *config_member);
    if (!config_json.ok()) return config_json.status();
    Result<oci::ImageConfig> config = oci::ParseImageConfig(*config_json);
    if (!config.ok()) return config.status().Wrap(config_path);
    PlannedBlob config_blob;
    config_blob.descriptor =
        Descriptor{oci::kMediaTypeDockerConfig, config_member->digest, config_member->size, {}};
    config_blob.kind = "config";
    config_blob.rank = RankOf("config");
    config_blob.path = resolved;
    config_blob.data = *config_json;
    plan_.blobs[config_member->digest] = config_blob;

    const auto& layer_files = entry["Layers"];
    if (layer_files.size() != config->diff_ids.size()) {
      return InvalidArgumentError(fmt::format("{}: {} layers, but the config {} has {} diff ids",
                                              where, layer_files.size(), config_path,
                                              config->diff_ids.size()));
    }
    oci::Manifest manifest;
    manifest.media_type = oci::kMediaTypeDockerManifest;
    manifest.config = config_blob.descriptor;
    for (size_t i = 0; i < layer_files.size(); ++i) {
      if (!layer_files[i].is_string()) {
        return InvalidArgumentError(fmt::format("{}.Layers[{}]: expected a file name", where, i));
      }
      std::string path = CleanPath(layer_files[i].get<std::string>());
      const Member* member = Lookup(scan_, path, &resolved);
      if (!member) return DataLossError(fmt::format("{}: layer {} is missing", where, path));
      std::string media_type = LayerMediaTypeFromMagic(member->magic);
      if (media_type == oci::kMediaTypeDockerLayer && member->digest != config->diff_ids[i]) {
        return DataLossError(fmt::format(
            "{}: content hashes to {}, but the config's diff id for layer {} is {} (corrupted?)",
            path, member->digest, i, config->diff_ids[i]));
      }
      PlannedBlob layer;
      layer.descriptor = Descriptor{media_type, member->digest, member->size, {}};
      layer.kind = "layer";
      layer.rank = RankOf("layer");
      layer.path = resolved;
      plan_.blobs.emplace(member->digest, layer);
      manifest.layers.push_back(layer.descriptor);
    }

    PlannedBlob manifest_blob;
    std::string json = oci::DockerManifestJson(manifest.config, manifest.layers);
    manifest_blob.descriptor = Descriptor{oci::kMediaTypeDockerManifest,
                                          oci::Sha256Digest(json),
                                          static_cast<int64_t>(json.size()),
                                          {}};
    manifest_blob.kind = "manifest";
    manifest_blob.rank = RankOf("manifest");
    manifest_blob.data = json;
    manifest_blob.labels = ChildGcLabels(manifest);
    plan_.blobs[manifest_blob.descriptor.digest] = manifest_blob;

    if (tags.empty()) {
      return AddBaseNamed("", manifest_blob.descriptor, where, "has no RepoTags");
    }
    for (const std::string& tag : tags) {
      ZLAYER_RETURN_IF_ERROR(AddImage(tag, manifest_blob.descriptor, where + ".RepoTags"));
    }
    return Status::Ok();
  }

  const Scan& scan_;
  const oci::Platform& platform_;
  const ImportOptions& options_;
  Plan plan_;
  std::set<std::string> required_;
};

// Feeds WriteContent from the current archive member, reporting progress.
class MemberSource : public containerd::BlobSource {
 public:
  MemberSource(ArchiveReader& reader, const Descriptor& blob, const ProgressCallback& progress)
      : reader_(reader), blob_(blob), progress_(progress) {}

  Result<size_t> Read(char* buffer, size_t size) override {
    Result<size_t> n = reader_.Read(buffer, size);
    if (n.ok() && *n > 0) {
      done_ += static_cast<int64_t>(*n);
      if (progress_) {
        ProgressEvent event;
        event.kind = ProgressEvent::Kind::kBlobWriting;
        event.blob = blob_;
        event.done = done_;
        progress_(event);
      }
    }
    return n;
  }

  Status Seek(int64_t offset) override {
    std::string discard(kChunk, '\0');
    while (done_ < offset) {
      Result<size_t> n =
          reader_.Read(discard.data(), std::min<size_t>(discard.size(), offset - done_));
      if (!n.ok()) return n.status();
      if (*n == 0) return DataLossError("seek past the end of " + reader_.Path());
      done_ += static_cast<int64_t>(*n);
    }
    return Status::Ok();
  }

  int64_t done() const { return done_; }

 private:
  ArchiveReader& reader_;
  const Descriptor& blob_;
  const ProgressCallback& progress_;
  int64_t done_ = 0;
};

}  // namespace

Importer::Importer(containerd::Client& client, ImageStore& store)
    : client_(client), store_(store) {}

Result<std::vector<std::string>> Importer::Import(const std::string& tar_path,
                                                  const ProgressCallback& progress) {
  return Import(tar_path, ImportOptions{}, progress);
}

Result<std::vector<std::string>> Importer::Import(const std::string& tar_path,
                                                  const ImportOptions& options,
                                                  const ProgressCallback& progress) {
  auto fail = [&](const Status& status) { return status.Wrap(tar_path); };

  // Pass 1: read, hash, plan and check everything before writing anything.
  Result<Scan> scan = ScanArchive(tar_path);
  if (!scan.ok()) return fail(scan.status());
  Result<Plan> plan = Planner(*scan, store_.platform(), options).Run();
  if (!plan.ok()) return fail(plan.status());

  Result<std::string> lease_id = client_.CreateLease(kImportLeaseExpiry);
  if (!lease_id.ok()) return fail(lease_id.status().Wrap("create lease"));
  LeaseGuard lease(client_, *lease_id);

  auto write = [&](const PlannedBlob& blob, containerd::BlobSource& source) {
    return client_
        .WriteContent(blob.kind + "-" + blob.descriptor.digest, ToContainerd(blob.descriptor),
                      source, blob.labels, lease.id())
        .Wrap(fmt::format("write {} {}", blob.kind, blob.descriptor.digest));
  };

  // Pass 2: stream the blobs that are not in memory, in archive order.
  std::map<std::string, const PlannedBlob*> to_stream;  // by archive path
  for (const auto& [digest, blob] : plan->blobs) {
    if (!blob.data) to_stream.emplace(blob.path, &blob);
  }
  if (!to_stream.empty()) {
    Result<std::unique_ptr<ArchiveReader>> reader = ArchiveReader::Open(tar_path);
    if (!reader.ok()) return fail(reader.status());
    while (!to_stream.empty()) {
      Result<bool> more = (*reader)->Next();
      if (!more.ok()) return fail(more.status());
      if (!*more) break;
      if (!(*reader)->IsRegular()) continue;
      auto it = to_stream.find((*reader)->Path());
      if (it == to_stream.end()) continue;
      const PlannedBlob& blob = *it->second;
      MemberSource source(**reader, blob.descriptor, progress);
      ZLAYER_RETURN_IF_ERROR(fail(write(blob, source)));
      Report(progress, ProgressEvent::Kind::kBlobWritten, blob.descriptor, blob.descriptor.size,
             source.done() == 0 && blob.descriptor.size > 0);
      to_stream.erase(it);
    }
    if (!to_stream.empty()) {
      return fail(DataLossError(to_stream.begin()->first + ": vanished while importing"));
    }
  }

  // Then the documents, children before parents.
  std::vector<const PlannedBlob*> documents;
  for (const auto& [digest, blob] : plan->blobs) {
    if (blob.data) documents.push_back(&blob);
  }
  std::stable_sort(documents.begin(), documents.end(),
                   [](const PlannedBlob* a, const PlannedBlob* b) { return a->rank < b->rank; });
  for (const PlannedBlob* blob : documents) {
    StringSource source(*blob->data);
    ZLAYER_RETURN_IF_ERROR(fail(write(*blob, source)));
    Report(progress, ProgressEvent::Kind::kBlobWritten, blob->descriptor, blob->descriptor.size,
           source.read() == 0 && blob->descriptor.size > 0);
  }

  // Unpack each image, then name it.
  std::set<std::string> unpacked;
  for (const PlannedImage& planned : plan->images) {
    if (!unpacked.insert(planned.target.digest).second) continue;
    Result<LocalImage> image =
        store_.Load(containerd::ImageRecord{planned.name, ToContainerd(planned.target)});
    if (!image.ok()) return fail(image.status());
    ZLAYER_RETURN_IF_ERROR(fail(store_.Unpack(*image, lease.id(), progress)));
  }
  std::vector<std::string> names;
  for (const PlannedImage& planned : plan->images) {
    Result<containerd::ImageRecord> existing = client_.GetImage(planned.name);
    bool same = existing.ok() && existing->target.digest == planned.target.digest &&
                existing->target.media_type == planned.target.media_type &&
                existing->target.size == planned.target.size;
    if (!existing.ok() && existing.status().code() != StatusCode::kNotFound) {
      return fail(existing.status().Wrap("image " + planned.name));
    }
    if (!same) ZLAYER_RETURN_IF_ERROR(fail(store_.Register(planned.name, planned.target)));
    Report(progress, ProgressEvent::Kind::kImageStored, planned.target, planned.target.size, same,
           planned.name);
    names.push_back(planned.name);
  }
  return names;
}

}  // namespace zlayer::images
