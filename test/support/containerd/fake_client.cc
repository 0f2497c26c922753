#include "test/support/containerd/fake_client.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <regex>

#include "agent/oci/digest.h"

namespace zlayer::containerd {
namespace {

constexpr size_t kMaxLabelSize = 4096;
constexpr size_t kReadChunk = 1 << 20;

// Every archive format libarchive reads: a compressed or plain layer blob,
// decompressed as one "raw" entry.
Result<std::string> Decompress(const std::string& blob) {
  if (blob.empty()) return std::string();
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  std::string out;
  struct archive_entry* entry = nullptr;
  int rc = archive_read_open_memory(a, blob.data(), blob.size());
  if (rc == ARCHIVE_OK) rc = archive_read_next_header(a, &entry);
  if (rc == ARCHIVE_OK) {
    char buffer[64 * 1024];
    la_ssize_t n;
    while ((n = archive_read_data(a, buffer, sizeof buffer)) > 0) out.append(buffer, n);
    if (n < 0) rc = ARCHIVE_FATAL;
  }
  std::string error = rc == ARCHIVE_OK          ? ""
                      : archive_error_string(a) ? archive_error_string(a)
                                                : "unreadable data";
  archive_read_free(a);
  if (rc != ARCHIVE_OK) return InvalidArgumentError("cannot decompress layer: " + error);
  return out;
}

Status CheckTar(const std::string& data) {
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_support_format_empty(a);
  struct archive_entry* entry = nullptr;
  int rc = archive_read_open_memory(a, data.data(), data.size());
  while (rc == ARCHIVE_OK) rc = archive_read_next_header(a, &entry);
  std::string error = rc == ARCHIVE_EOF         ? ""
                      : archive_error_string(a) ? archive_error_string(a)
                                                : "not a tar";
  archive_read_free(a);
  if (rc != ARCHIVE_EOF) return InvalidArgumentError("layer is not a tar: " + error);
  return Status::Ok();
}

// containerd's filter syntax, reduced to what tests need: comma-separated
// terms (AND), each `path`, `path==value`, `path!=value` or `path~=regex`,
// where path components and values may be "quoted".
struct FilterTerm {
  std::vector<std::string> path;
  std::string op;
  std::string value;
};

Result<std::vector<FilterTerm>> ParseFilter(const std::string& filter) {
  std::vector<FilterTerm> terms;
  size_t i = 0;
  auto parse_word = [&](bool value) -> Result<std::string> {
    std::string word;
    if (i < filter.size() && filter[i] == '"') {
      ++i;
      while (i < filter.size() && filter[i] != '"') {
        if (filter[i] == '\\' && i + 1 < filter.size()) ++i;
        word += filter[i++];
      }
      if (i >= filter.size()) return InvalidArgumentError("filter " + filter + ": unclosed quote");
      ++i;
      return word;
    }
    while (
        i < filter.size() && filter[i] != ',' &&
        (value || (filter[i] != '.' && filter[i] != '=' && filter[i] != '!' && filter[i] != '~'))) {
      word += filter[i++];
    }
    return word;
  };
  while (i < filter.size()) {
    FilterTerm term;
    while (true) {
      Result<std::string> part = parse_word(false);
      if (!part.ok()) return part.status();
      term.path.push_back(*part);
      if (i < filter.size() && filter[i] == '.') {
        ++i;
        continue;
      }
      break;
    }
    if (i + 1 < filter.size() && filter[i + 1] == '=' &&
        (filter[i] == '=' || filter[i] == '!' || filter[i] == '~')) {
      term.op = filter.substr(i, 2);
      i += 2;
      Result<std::string> value = parse_word(true);
      if (!value.ok()) return value.status();
      term.value = *value;
    }
    if (i < filter.size()) {
      if (filter[i] != ',') return InvalidArgumentError("filter " + filter + ": unexpected text");
      ++i;
    }
    terms.push_back(std::move(term));
  }
  return terms;
}

using FieldLookup = std::function<std::optional<std::string>(const std::vector<std::string>&)>;

bool Matches(const std::vector<FilterTerm>& terms, const FieldLookup& lookup) {
  for (const FilterTerm& term : terms) {
    std::optional<std::string> field = lookup(term.path);
    if (term.op.empty()) {
      if (!field) return false;
    } else if (term.op == "==") {
      if (!field || *field != term.value) return false;
    } else if (term.op == "!=") {
      if (field && *field == term.value) return false;
    } else {
      if (!field || !std::regex_search(*field, std::regex(term.value))) return false;
    }
  }
  return true;
}

std::optional<std::string> EventField(const Event& event, const std::vector<std::string>& path) {
  if (path.size() == 1 && path[0] == "topic") return event.topic;
  if (path.size() == 1 && path[0] == "namespace") return event.namespace_name;
  if (path.size() == 2 && path[0] == "event") {
    if (path[1] == "container_id") return event.container_id;
    if (path[1] == "id" || path[1] == "exec_id") return event.exec_id;
  }
  return std::nullopt;
}

std::optional<std::string> ContainerField(const ContainerRecord& c,
                                          const std::vector<std::string>& path) {
  if (path.size() == 2 && path[0] == "labels") {
    auto it = c.labels.find(path[1]);
    if (it == c.labels.end()) return std::nullopt;
    return it->second;
  }
  if (path.size() == 1 && path[0] == "id") return c.id;
  if (path.size() == 1 && path[0] == "image") return c.image;
  if (path.size() == 1 && path[0] == "snapshotter") return c.snapshotter;
  if (path.size() == 2 && path[0] == "runtime" && path[1] == "name") return c.runtime;
  return std::nullopt;
}

bool IsGcRef(const std::string& key, const std::string& prefix) {
  return key.compare(0, prefix.size(), prefix) == 0 &&
         (key.size() == prefix.size() || key[prefix.size()] == '.' || key[prefix.size()] == '/');
}

}  // namespace

// --- events ------------------------------------------------------------------------

struct FakeClient::Subscription {
  std::vector<std::vector<FilterTerm>> filters;  // OR of ANDs; empty = everything
  std::function<void(const Event&)> on_event;
  std::function<void(const Status&)> on_end;
  std::atomic<bool> ended{false};

  void End(const Status& reason) {
    if (!ended.exchange(true) && on_end) on_end(reason);
  }
  bool Wants(const Event& event) const {
    if (filters.empty()) return true;
    for (const auto& terms : filters) {
      if (Matches(terms, [&](const auto& path) { return EventField(event, path); })) return true;
    }
    return false;
  }
};

class FakeClient::SubscriptionHandle : public EventSubscription {
 public:
  explicit SubscriptionHandle(std::shared_ptr<Subscription> s) : s_(std::move(s)) {}
  ~SubscriptionHandle() override { Cancel(); }
  void Cancel() override { s_->End(Status::Ok()); }

 private:
  std::shared_ptr<Subscription> s_;
};

// --- plumbing ------------------------------------------------------------------------

const char* FakeClient::MethodName(Method method) {
  switch (method) {
    case Method::kVersion:
      return "Version";
    case Method::kEnsureNamespace:
      return "EnsureNamespace";
    case Method::kCreateLease:
      return "CreateLease";
    case Method::kDeleteLease:
      return "DeleteLease";
    case Method::kGetContent:
      return "GetContent";
    case Method::kReadContent:
      return "ReadContent";
    case Method::kWriteContent:
      return "WriteContent";
    case Method::kUpdateContentLabels:
      return "UpdateContentLabels";
    case Method::kDeleteContent:
      return "DeleteContent";
    case Method::kGetImage:
      return "GetImage";
    case Method::kListImages:
      return "ListImages";
    case Method::kPutImage:
      return "PutImage";
    case Method::kDeleteImage:
      return "DeleteImage";
    case Method::kStatSnapshot:
      return "StatSnapshot";
    case Method::kPrepareSnapshot:
      return "PrepareSnapshot";
    case Method::kCommitSnapshot:
      return "CommitSnapshot";
    case Method::kSnapshotMounts:
      return "SnapshotMounts";
    case Method::kRemoveSnapshot:
      return "RemoveSnapshot";
    case Method::kApplyDiff:
      return "ApplyDiff";
    case Method::kCreateContainer:
      return "CreateContainer";
    case Method::kGetContainer:
      return "GetContainer";
    case Method::kListContainers:
      return "ListContainers";
    case Method::kDeleteContainer:
      return "DeleteContainer";
    case Method::kCreateTask:
      return "CreateTask";
    case Method::kStartTask:
      return "StartTask";
    case Method::kGetTask:
      return "GetTask";
    case Method::kListTasks:
      return "ListTasks";
    case Method::kKillTask:
      return "KillTask";
    case Method::kDeleteTask:
      return "DeleteTask";
    case Method::kExec:
      return "Exec";
    case Method::kDeleteProcess:
      return "DeleteProcess";
    case Method::kWaitProcess:
      return "WaitProcess";
    case Method::kCloseStdin:
      return "CloseStdin";
    case Method::kResizePty:
      return "ResizePty";
    case Method::kSubscribeEvents:
      return "SubscribeEvents";
  }
  return "?";
}

FakeClient::FakeClient(std::string namespace_name) : namespace_name_(std::move(namespace_name)) {}

FakeClient::~FakeClient() {
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    std::lock_guard lock(mu_);
    subs.swap(subscriptions_);
  }
  for (auto& s : subs) s->End(Status::Ok());
}

Status FakeClient::Enter(Method method) {
  ++calls_[method];
  auto it = failures_.find(method);
  if (it == failures_.end() || it->second.empty()) return Status::Ok();
  Status status = it->second.front();
  it->second.pop_front();
  return status;
}

Status FakeClient::CheckLease(const std::string& lease) const {
  if (lease.empty() || leases_.count(lease)) return Status::Ok();
  return NotFoundError(fmt::format("lease {}: lease does not exist", lease));
}

Status FakeClient::ValidateLabels(const Labels& labels) const {
  for (const auto& [key, value] : labels) {
    if (key.empty()) return InvalidArgumentError("label key must not be empty");
    if (key.size() + value.size() > kMaxLabelSize) {
      return InvalidArgumentError(
          fmt::format("label key and value greater than maximum size ({} bytes), key: {}",
                      kMaxLabelSize, key.substr(0, 64)));
    }
  }
  return Status::Ok();
}

Event FakeClient::TaskEvent(const std::string& topic, const std::string& container_id) const {
  Event e;
  e.topic = topic;
  e.namespace_name = namespace_name_;
  e.timestamp = std::chrono::system_clock::now();
  e.container_id = container_id;
  return e;
}

void FakeClient::Deliver(std::vector<Event> events) {
  if (events.empty()) return;
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    std::lock_guard lock(mu_);
    subs = subscriptions_;
  }
  for (const Event& event : events) {
    for (auto& s : subs) {
      if (!s->ended && s->Wants(event) && s->on_event) s->on_event(event);
    }
  }
}

void FakeClient::PublishEvent(const Event& event) { Deliver({event}); }

// --- daemon, namespaces, leases ----------------------------------------------------------

Result<VersionInfo> FakeClient::Version() {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kVersion));
  return version_;
}

Status FakeClient::EnsureNamespace(const Labels& labels) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kEnsureNamespace));
  ZLAYER_RETURN_IF_ERROR(ValidateLabels(labels));
  for (const auto& [k, v] : labels) namespace_labels_[k] = v;
  return Status::Ok();
}

Result<std::string> FakeClient::CreateLease(std::chrono::seconds expire) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kCreateLease));
  std::string id = fmt::format("fake-lease-{}", next_lease_++);
  leases_[id].expires = std::chrono::system_clock::now() + expire;
  return id;
}

Status FakeClient::DeleteLease(const std::string& id, bool sync) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kDeleteLease));
  if (!leases_.erase(id)) return NotFoundError(fmt::format("leases.delete {}: not found", id));
  if (sync) CollectGarbageLocked();
  return Status::Ok();
}

// --- content ---------------------------------------------------------------------------

Result<ContentInfo> FakeClient::GetContent(const std::string& digest) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kGetContent));
  auto it = content_.find(digest);
  if (it == content_.end()) {
    return NotFoundError(fmt::format("content.info {}: not found", digest));
  }
  return ContentInfo{digest, static_cast<int64_t>(it->second.data.size()), it->second.labels};
}

Result<std::string> FakeClient::ReadContent(const std::string& digest, int64_t max_size) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kReadContent));
  auto it = content_.find(digest);
  if (it == content_.end()) {
    return NotFoundError(fmt::format("content.read {}: not found", digest));
  }
  if (static_cast<int64_t>(it->second.data.size()) > max_size) {
    return Status(StatusCode::kOutOfRange,
                  fmt::format("content.read {}: {} bytes is more than the {} allowed", digest,
                              it->second.data.size(), max_size));
  }
  return it->second.data;
}

Status FakeClient::WriteContent(const std::string& ref, const Descriptor& expected,
                                BlobSource& source, const Labels& labels,
                                const std::string& lease) {
  std::string data;
  std::optional<int64_t> interrupt_after;
  {
    std::lock_guard lock(mu_);
    ZLAYER_RETURN_IF_ERROR(Enter(Method::kWriteContent));
    auto context = [&] { return fmt::format("content.write {}", ref); };
    if (ref.empty()) return InvalidArgumentError("content.write: ref must not be empty");
    ZLAYER_RETURN_IF_ERROR(CheckLease(lease).Wrap(context()));
    ZLAYER_RETURN_IF_ERROR(ValidateLabels(labels).Wrap(context()));
    if (!oci::IsSha256Digest(expected.digest)) {
      return InvalidArgumentError(
          fmt::format("{}: invalid expected digest \"{}\"", context(), expected.digest));
    }
    auto existing = content_.find(expected.digest);
    if (existing != content_.end()) {
      if (!lease.empty()) leases_[lease].content.insert(expected.digest);
      for (const auto& [k, v] : labels) {
        if (v.empty()) {
          existing->second.labels.erase(k);
        } else {
          existing->second.labels[k] = v;
        }
      }
      return Status::Ok();
    }
    Ingest& ingest = ingests_[ref];
    if (ingest.locked) return UnavailableError(fmt::format("{}: ref {} locked", context(), ref));
    if (ingest.expected != expected.digest) ingest.data.clear();
    ingest.expected = expected.digest;
    ingest.locked = true;
    data = ingest.data;
    interrupt_after = interrupt_write_after_;
    interrupt_write_after_.reset();
  }

  // Read without the lock, as a real stream would.
  Status read_status;
  if (!data.empty()) read_status = source.Seek(static_cast<int64_t>(data.size()));
  bool interrupted = false;
  std::string buffer(kReadChunk, '\0');
  while (read_status.ok()) {
    size_t want = buffer.size();
    if (interrupt_after) {
      int64_t left = *interrupt_after - static_cast<int64_t>(data.size());
      if (left <= 0) {
        interrupted = true;
        break;
      }
      want = std::min<size_t>(want, static_cast<size_t>(left));
    }
    Result<size_t> n = source.Read(buffer.data(), want);
    if (!n.ok()) {
      read_status = n.status();
      break;
    }
    if (*n == 0) break;
    data.append(buffer.data(), *n);
  }

  std::lock_guard lock(mu_);
  auto context = fmt::format("content.write {}", ref);
  Ingest& ingest = ingests_[ref];
  ingest.locked = false;
  ingest.data = data;
  if (!read_status.ok()) return read_status.Wrap(context + ": reading the source");
  if (interrupted) return UnavailableError(context + ": write interrupted (fake)");
  int64_t size = static_cast<int64_t>(data.size());
  std::string digest = oci::Sha256Digest(data);
  if (expected.size > 0 && size != expected.size) {
    ingests_.erase(ref);
    return FailedPreconditionError(
        fmt::format("{}: unexpected commit size {}, expected {}", context, size, expected.size));
  }
  if (digest != expected.digest) {
    ingests_.erase(ref);
    return FailedPreconditionError(fmt::format("{}: unexpected commit digest {}, expected {}",
                                               context, digest, expected.digest));
  }
  ingests_.erase(ref);
  Blob& blob = content_[digest];
  if (blob.data.empty()) {
    blob.data = std::move(data);
    blob.labels.clear();
    for (const auto& [k, v] : labels) {
      if (!v.empty()) blob.labels[k] = v;
    }
  }
  if (!lease.empty()) leases_[lease].content.insert(digest);
  return Status::Ok();
}

Status FakeClient::UpdateContentLabels(const std::string& digest, const Labels& labels) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kUpdateContentLabels));
  auto it = content_.find(digest);
  if (it == content_.end()) {
    return NotFoundError(fmt::format("content.update {}: not found", digest));
  }
  ZLAYER_RETURN_IF_ERROR(ValidateLabels(labels).Wrap("content.update " + digest));
  for (const auto& [k, v] : labels) {
    if (v.empty()) {
      it->second.labels.erase(k);
    } else {
      it->second.labels[k] = v;
    }
  }
  return Status::Ok();
}

Status FakeClient::DeleteContent(const std::string& digest) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kDeleteContent));
  if (!content_.erase(digest)) {
    return NotFoundError(fmt::format("content.delete {}: not found", digest));
  }
  return Status::Ok();
}

// --- images ------------------------------------------------------------------------------

Result<ImageRecord> FakeClient::GetImage(const std::string& name) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kGetImage));
  auto it = images_.find(name);
  if (it == images_.end()) return NotFoundError(fmt::format("images.get {}: not found", name));
  return it->second;
}

Result<std::vector<ImageRecord>> FakeClient::ListImages() {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kListImages));
  std::vector<ImageRecord> out;
  for (const auto& [name, image] : images_) out.push_back(image);
  return out;
}

Status FakeClient::PutImage(const ImageRecord& image) {
  std::vector<Event> events;
  {
    std::lock_guard lock(mu_);
    ZLAYER_RETURN_IF_ERROR(Enter(Method::kPutImage));
    std::string context = fmt::format("images.put {}", image.name);
    if (image.name.empty()) return InvalidArgumentError("images.put: image name required");
    if (!oci::IsSha256Digest(image.target.digest)) {
      return InvalidArgumentError(context + ": target digest invalid");
    }
    if (image.target.size <= 0) return InvalidArgumentError(context + ": target size must be > 0");
    if (image.target.media_type.empty()) {
      return InvalidArgumentError(context + ": target mediatype required");
    }
    ZLAYER_RETURN_IF_ERROR(ValidateLabels(image.labels).Wrap(context));
    auto now = std::chrono::system_clock::now();
    auto [it, created] = images_.try_emplace(image.name, image);
    TimePoint created_at = created ? now : it->second.created_at;
    it->second = image;
    it->second.created_at = created_at;
    it->second.updated_at = now;
    Event e = TaskEvent(created ? "/images/create" : "/images/update", "");
    events.push_back(e);
  }
  Deliver(std::move(events));
  return Status::Ok();
}

Status FakeClient::DeleteImage(const std::string& name, bool sync) {
  {
    std::lock_guard lock(mu_);
    ZLAYER_RETURN_IF_ERROR(Enter(Method::kDeleteImage));
    if (!images_.erase(name))
      return NotFoundError(fmt::format("images.delete {}: not found", name));
    if (sync) CollectGarbageLocked();
  }
  Deliver({TaskEvent("/images/delete", "")});
  return Status::Ok();
}

// --- snapshots ----------------------------------------------------------------------------

std::vector<Mount> FakeClient::MountsFor(const std::string& snapshotter,
                                         const Snapshot& snapshot) const {
  std::string dir = fmt::format("/fake/{}/snapshots/{}", snapshotter, snapshot.id);
  if (snapshot.info.parent.empty()) {
    return {Mount{"bind", dir + "/fs", {"rw", "rbind"}}};
  }
  std::string lower;
  const auto& all = snapshots_.at(snapshotter);
  for (std::string p = snapshot.info.parent; !p.empty();) {
    const Snapshot& parent = all.at(p);
    if (!lower.empty()) lower += ':';
    lower += fmt::format("/fake/{}/snapshots/{}/fs", snapshotter, parent.id);
    p = parent.info.parent;
  }
  return {Mount{"overlay",
                "overlay",
                {"workdir=" + dir + "/work", "upperdir=" + dir + "/fs", "lowerdir=" + lower}}};
}

Result<SnapshotInfo> FakeClient::StatSnapshot(const std::string& snapshotter,
                                              const std::string& key) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kStatSnapshot));
  if (snapshotter.empty()) return InvalidArgumentError("snapshots.stat: snapshotter required");
  auto s = snapshots_.find(snapshotter);
  if (s == snapshots_.end() || !s->second.count(key)) {
    return NotFoundError(fmt::format("snapshots.stat {}/{}: not found", snapshotter, key));
  }
  return s->second.at(key).info;
}

Result<std::vector<Mount>> FakeClient::PrepareSnapshot(const std::string& snapshotter,
                                                       const std::string& key,
                                                       const std::string& parent,
                                                       const Labels& labels,
                                                       const std::string& lease) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kPrepareSnapshot));
  std::string context = fmt::format("snapshots.prepare {}/{}", snapshotter, key);
  if (snapshotter.empty()) return InvalidArgumentError("snapshots.prepare: snapshotter required");
  if (key.empty()) return InvalidArgumentError(context + ": key required");
  ZLAYER_RETURN_IF_ERROR(CheckLease(lease).Wrap(context));
  ZLAYER_RETURN_IF_ERROR(ValidateLabels(labels).Wrap(context));
  auto& all = snapshots_[snapshotter];
  if (all.count(key)) return AlreadyExistsError(context + ": snapshot already exists");
  auto target = labels.find(kLabelSnapshotRef);
  if (target != labels.end() && all.count(target->second)) {
    return AlreadyExistsError(
        fmt::format("{}: target snapshot \"{}\" already exists", context, target->second));
  }
  if (!parent.empty()) {
    auto p = all.find(parent);
    if (p == all.end())
      return NotFoundError(fmt::format("{}: parent {} not found", context, parent));
    if (p->second.info.kind != SnapshotKind::kCommitted) {
      return InvalidArgumentError(fmt::format("{}: parent {} is not committed", context, parent));
    }
  }
  Snapshot& snapshot = all[key];
  snapshot.info = SnapshotInfo{key, parent, SnapshotKind::kActive, labels};
  snapshot.id = next_snapshot_id_++;
  if (!lease.empty()) leases_[lease].snapshots.insert({snapshotter, key});
  return MountsFor(snapshotter, snapshot);
}

Status FakeClient::CommitSnapshot(const std::string& snapshotter, const std::string& name,
                                  const std::string& key, const Labels& labels,
                                  const std::string& lease) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kCommitSnapshot));
  std::string context = fmt::format("snapshots.commit {}/{}", snapshotter, name);
  if (snapshotter.empty()) return InvalidArgumentError("snapshots.commit: snapshotter required");
  ZLAYER_RETURN_IF_ERROR(CheckLease(lease).Wrap(context));
  ZLAYER_RETURN_IF_ERROR(ValidateLabels(labels).Wrap(context));
  auto& all = snapshots_[snapshotter];
  auto active = all.find(key);
  if (active == all.end()) return NotFoundError(fmt::format("{}: key {} not found", context, key));
  if (active->second.info.kind != SnapshotKind::kActive) {
    return FailedPreconditionError(fmt::format("{}: {} is not active", context, key));
  }
  if (all.count(name)) return AlreadyExistsError(context + ": snapshot already exists");
  Snapshot committed = active->second;
  all.erase(active);
  committed.info.name = name;
  committed.info.kind = SnapshotKind::kCommitted;
  committed.info.labels = labels;
  all[name] = std::move(committed);
  for (auto& [id, l] : leases_) {
    if (l.snapshots.erase({snapshotter, key})) l.snapshots.insert({snapshotter, name});
  }
  if (!lease.empty()) leases_[lease].snapshots.insert({snapshotter, name});
  return Status::Ok();
}

Result<std::vector<Mount>> FakeClient::SnapshotMounts(const std::string& snapshotter,
                                                      const std::string& key) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kSnapshotMounts));
  std::string context = fmt::format("snapshots.mounts {}/{}", snapshotter, key);
  auto s = snapshots_.find(snapshotter);
  if (s == snapshots_.end() || !s->second.count(key)) return NotFoundError(context + ": not found");
  const Snapshot& snapshot = s->second.at(key);
  if (snapshot.info.kind == SnapshotKind::kCommitted) {
    return FailedPreconditionError(context + ": snapshot is committed, not active");
  }
  return MountsFor(snapshotter, snapshot);
}

Status FakeClient::RemoveSnapshot(const std::string& snapshotter, const std::string& key) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kRemoveSnapshot));
  std::string context = fmt::format("snapshots.remove {}/{}", snapshotter, key);
  auto s = snapshots_.find(snapshotter);
  if (s == snapshots_.end() || !s->second.count(key)) return NotFoundError(context + ": not found");
  for (const auto& [k, child] : s->second) {
    if (child.info.parent == key) {
      return FailedPreconditionError(
          fmt::format("{}: cannot remove snapshot with child {}", context, k));
    }
  }
  s->second.erase(key);
  return Status::Ok();
}

// --- diff ---------------------------------------------------------------------------------

Result<Descriptor> FakeClient::ApplyDiff(const Descriptor& layer, const std::vector<Mount>& mounts,
                                         const std::string& lease) {
  std::string blob;
  {
    std::lock_guard lock(mu_);
    ZLAYER_RETURN_IF_ERROR(Enter(Method::kApplyDiff));
    ZLAYER_RETURN_IF_ERROR(CheckLease(lease).Wrap("diff.apply " + layer.digest));
    auto it = content_.find(layer.digest);
    if (it == content_.end()) {
      return NotFoundError(fmt::format("diff.apply {}: content not found", layer.digest));
    }
    blob = it->second.data;
  }
  std::string context = fmt::format("diff.apply {}", layer.digest);
  if (layer.media_type.find("gzip") != std::string::npos &&
      (blob.size() < 2 || blob[0] != '\x1f' || blob[1] != '\x8b')) {
    return InvalidArgumentError(context + ": gzip: invalid header");
  }
  Result<std::string> tar = Decompress(blob);
  if (!tar.ok()) return tar.status().Wrap(context);
  ZLAYER_RETURN_IF_ERROR(CheckTar(*tar).Wrap(context));
  Descriptor applied{"application/vnd.oci.image.layer.v1.tar",
                     oci::Sha256Digest(*tar),
                     static_cast<int64_t>(tar->size()),
                     {}};

  // The mounts name the active snapshot through its upper (or bind) directory.
  std::string upper;
  if (!mounts.empty()) {
    if (mounts[0].type == "bind") upper = mounts[0].source;
    for (const std::string& option : mounts[0].options) {
      if (option.rfind("upperdir=", 0) == 0) upper = option.substr(9);
    }
  }
  std::lock_guard lock(mu_);
  for (auto& [snapshotter, all] : snapshots_) {
    for (auto& [key, snapshot] : all) {
      if (snapshot.info.kind == SnapshotKind::kActive &&
          fmt::format("/fake/{}/snapshots/{}/fs", snapshotter, snapshot.id) == upper) {
        snapshot.applied.push_back(applied.digest);
        return applied;
      }
    }
  }
  return InvalidArgumentError(context + ": mounts do not belong to an active snapshot");
}

// --- containers ----------------------------------------------------------------------------

Status FakeClient::CreateContainer(const ContainerRecord& container, const std::string& lease) {
  {
    std::lock_guard lock(mu_);
    ZLAYER_RETURN_IF_ERROR(Enter(Method::kCreateContainer));
    std::string context = fmt::format("containers.create {}", container.id);
    static const std::regex kIdentifier("[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*");
    if (container.id.empty() || container.id.size() > 76 ||
        !std::regex_match(container.id, kIdentifier)) {
      return InvalidArgumentError(context + ": invalid container id");
    }
    ZLAYER_RETURN_IF_ERROR(CheckLease(lease).Wrap(context));
    ZLAYER_RETURN_IF_ERROR(ValidateLabels(container.labels).Wrap(context));
    if (container.runtime.empty()) return InvalidArgumentError(context + ": runtime required");
    if (container.spec_json.empty()) return InvalidArgumentError(context + ": spec required");
    if (!container.snapshot_key.empty() && container.snapshotter.empty()) {
      return InvalidArgumentError(context + ": snapshotter required with snapshot_key");
    }
    if (containers_.count(container.id)) return AlreadyExistsError(context + ": already exists");
    ContainerRecord& c = containers_[container.id];
    c = container;
    c.created_at = std::chrono::system_clock::now();
  }
  Deliver({TaskEvent("/containers/create", container.id)});
  return Status::Ok();
}

Result<ContainerRecord> FakeClient::GetContainer(const std::string& id) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kGetContainer));
  auto it = containers_.find(id);
  if (it == containers_.end())
    return NotFoundError(fmt::format("containers.get {}: not found", id));
  return it->second;
}

Result<std::vector<ContainerRecord>> FakeClient::ListContainers(const std::string& filter) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kListContainers));
  Result<std::vector<FilterTerm>> terms = ParseFilter(filter);
  if (!terms.ok()) return terms.status().Wrap("containers.list");
  std::vector<ContainerRecord> out;
  for (const auto& [id, c] : containers_) {
    if (Matches(*terms, [&](const auto& path) { return ContainerField(c, path); })) {
      out.push_back(c);
    }
  }
  return out;
}

Status FakeClient::DeleteContainer(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    ZLAYER_RETURN_IF_ERROR(Enter(Method::kDeleteContainer));
    if (!containers_.erase(id)) {
      return NotFoundError(fmt::format("containers.delete {}: not found", id));
    }
  }
  Deliver({TaskEvent("/containers/delete", id)});
  return Status::Ok();
}

// --- tasks -------------------------------------------------------------------------------------

FakeClient::Process* FakeClient::FindProcess(const std::string& container_id,
                                             const std::string& exec_id) {
  auto t = tasks_.find(container_id);
  if (t == tasks_.end()) return nullptr;
  if (exec_id.empty()) return &t->second.init;
  auto e = t->second.execs.find(exec_id);
  return e == t->second.execs.end() ? nullptr : &e->second;
}

void FakeClient::ExitLocked(const std::string& container_id, Process& process, uint32_t exit_status,
                            std::vector<Event>& events) {
  process.info.status = TaskStatus::kStopped;
  process.info.exit_status = exit_status;
  process.info.exited_at = std::chrono::system_clock::now();
  exited_.notify_all();
  Event e = TaskEvent("/tasks/exit", container_id);
  e.exec_id = process.info.exec_id.empty() ? container_id : process.info.exec_id;
  e.pid = process.info.pid;
  e.exit_status = exit_status;
  e.exited_at = process.info.exited_at;
  events.push_back(e);
}

Result<pid_t> FakeClient::CreateTask(const CreateTaskRequest& request) {
  pid_t pid;
  {
    std::lock_guard lock(mu_);
    ZLAYER_RETURN_IF_ERROR(Enter(Method::kCreateTask));
    std::string context = fmt::format("tasks.create {}", request.container_id);
    if (!containers_.count(request.container_id)) {
      return NotFoundError(context + ": container not found");
    }
    if (tasks_.count(request.container_id)) return AlreadyExistsError(context + ": task exists");
    Task& task = tasks_[request.container_id];
    TaskInfo& info = task.init.info;
    info.container_id = request.container_id;
    info.pid = pid = next_pid_++;
    info.status = TaskStatus::kCreated;
    info.stdin_path = request.stdin_path;
    info.stdout_path = request.stdout_path;
    info.stderr_path = request.stderr_path;
    info.terminal = request.terminal;
  }
  Event e = TaskEvent("/tasks/create", request.container_id);
  e.pid = pid;
  Deliver({e});
  return pid;
}

Result<pid_t> FakeClient::StartTask(const std::string& container_id, const std::string& exec_id) {
  pid_t pid;
  std::string topic = exec_id.empty() ? "/tasks/start" : "/tasks/exec-started";
  {
    std::lock_guard lock(mu_);
    ZLAYER_RETURN_IF_ERROR(Enter(Method::kStartTask));
    std::string context = fmt::format("tasks.start {}", container_id);
    if (!exec_id.empty()) context += "/" + exec_id;
    Process* process = FindProcess(container_id, exec_id);
    if (!process) return NotFoundError(context + ": not found");
    if (process->info.status != TaskStatus::kCreated) {
      return FailedPreconditionError(context + ": process is not in the created state");
    }
    if (!exec_id.empty()) process->info.pid = next_pid_++;
    process->info.status = TaskStatus::kRunning;
    pid = process->info.pid;
  }
  Event e = TaskEvent(topic, container_id);
  e.exec_id = exec_id;
  e.pid = pid;
  Deliver({e});
  return pid;
}

Result<TaskInfo> FakeClient::GetTask(const std::string& container_id) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kGetTask));
  auto t = tasks_.find(container_id);
  if (t == tasks_.end()) return NotFoundError(fmt::format("tasks.get {}: not found", container_id));
  return t->second.init.info;
}

Result<std::vector<TaskInfo>> FakeClient::ListTasks() {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kListTasks));
  std::vector<TaskInfo> out;
  for (const auto& [id, task] : tasks_) out.push_back(task.init.info);
  return out;
}

Status FakeClient::KillTask(const std::string& container_id, const std::string& exec_id, int signal,
                            bool all) {
  KillHandler handler;
  {
    std::lock_guard lock(mu_);
    ZLAYER_RETURN_IF_ERROR(Enter(Method::kKillTask));
    std::string context = fmt::format("tasks.kill {}", container_id);
    Process* process = FindProcess(container_id, exec_id);
    if (!process) return NotFoundError(context + ": not found");
    if (process->info.status == TaskStatus::kStopped) {
      return NotFoundError(context + ": process already finished");
    }
    handler = kill_handler_;
  }
  std::vector<std::string> targets{exec_id};
  if (all && exec_id.empty()) {
    std::lock_guard lock(mu_);
    for (const auto& [id, p] : tasks_.at(container_id).execs) targets.push_back(id);
  }
  std::vector<Event> events;
  for (const std::string& target : targets) {
    std::optional<uint32_t> exit_status =
        handler ? handler(container_id, target, signal) : std::optional<uint32_t>(128 + signal);
    if (!exit_status) continue;
    std::lock_guard lock(mu_);
    Process* process = FindProcess(container_id, target);
    if (process && process->info.status != TaskStatus::kStopped) {
      ExitLocked(container_id, *process, *exit_status, events);
    }
  }
  Deliver(std::move(events));
  return Status::Ok();
}

Status FakeClient::ExitProcess(const std::string& container_id, const std::string& exec_id,
                               uint32_t exit_status) {
  std::vector<Event> events;
  {
    std::lock_guard lock(mu_);
    Process* process = FindProcess(container_id, exec_id);
    if (!process) return NotFoundError(fmt::format("fake exit {}: no such process", container_id));
    if (process->info.status == TaskStatus::kStopped) {
      return FailedPreconditionError(fmt::format("fake exit {}: already exited", container_id));
    }
    ExitLocked(container_id, *process, exit_status, events);
  }
  Deliver(std::move(events));
  return Status::Ok();
}

Result<ExitInfo> FakeClient::DeleteTask(const std::string& container_id) {
  ExitInfo exit;
  {
    std::lock_guard lock(mu_);
    ZLAYER_RETURN_IF_ERROR(Enter(Method::kDeleteTask));
    std::string context = fmt::format("tasks.delete {}", container_id);
    if (!containers_.count(container_id)) return NotFoundError(context + ": container not found");
    auto t = tasks_.find(container_id);
    if (t == tasks_.end()) return NotFoundError(context + ": task not found");
    const TaskInfo& info = t->second.init.info;
    if (info.status == TaskStatus::kRunning || info.status == TaskStatus::kPaused) {
      return Status(StatusCode::kUnknown, context + ": cannot delete a running process");
    }
    exit = ExitInfo{info.pid, info.exit_status, info.exited_at};
    tasks_.erase(t);
  }
  Event e = TaskEvent("/tasks/delete", container_id);
  e.pid = exit.pid;
  e.exit_status = exit.exit_status;
  e.exited_at = exit.exited_at;
  Deliver({e});
  return exit;
}

Status FakeClient::Exec(const ExecRequest& request) {
  {
    std::lock_guard lock(mu_);
    ZLAYER_RETURN_IF_ERROR(Enter(Method::kExec));
    std::string context = fmt::format("tasks.exec {}/{}", request.container_id, request.exec_id);
    static const std::regex kIdentifier("[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*");
    if (request.exec_id.size() > 76 || !std::regex_match(request.exec_id, kIdentifier)) {
      return InvalidArgumentError(context + ": invalid exec id");
    }
    auto t = tasks_.find(request.container_id);
    if (t == tasks_.end()) return NotFoundError(context + ": task not found");
    if (t->second.execs.count(request.exec_id)) return AlreadyExistsError(context + ": exists");
    Process& p = t->second.execs[request.exec_id];
    p.info.container_id = request.container_id;
    p.info.exec_id = request.exec_id;
    p.info.status = TaskStatus::kCreated;
    p.info.stdin_path = request.stdin_path;
    p.info.stdout_path = request.stdout_path;
    p.info.stderr_path = request.stderr_path;
    p.info.terminal = request.terminal;
    p.process_json = request.process_json;
  }
  Event e = TaskEvent("/tasks/exec-added", request.container_id);
  e.exec_id = request.exec_id;
  Deliver({e});
  return Status::Ok();
}

Result<ExitInfo> FakeClient::DeleteProcess(const std::string& container_id,
                                           const std::string& exec_id) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kDeleteProcess));
  std::string context = fmt::format("tasks.delete_process {}/{}", container_id, exec_id);
  auto t = tasks_.find(container_id);
  if (t == tasks_.end() || !t->second.execs.count(exec_id)) {
    return NotFoundError(context + ": not found");
  }
  const TaskInfo& info = t->second.execs.at(exec_id).info;
  if (info.status == TaskStatus::kRunning) {
    return Status(StatusCode::kUnknown, context + ": cannot delete a running process");
  }
  ExitInfo exit{info.pid, info.exit_status, info.exited_at};
  t->second.execs.erase(exec_id);
  return exit;
}

Result<ExitInfo> FakeClient::WaitProcess(const std::string& container_id,
                                         const std::string& exec_id,
                                         std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kWaitProcess));
  std::string context = fmt::format("tasks.wait {}/{}", container_id, exec_id);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    Process* process = FindProcess(container_id, exec_id);
    if (!process) return NotFoundError(context + ": not found");
    if (process->info.status == TaskStatus::kStopped) {
      return ExitInfo{process->info.pid, process->info.exit_status, process->info.exited_at};
    }
    if (exited_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return DeadlineExceededError(context + ": deadline exceeded");
    }
  }
}

Status FakeClient::CloseStdin(const std::string& container_id, const std::string& exec_id) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kCloseStdin));
  Process* process = FindProcess(container_id, exec_id);
  if (!process) return NotFoundError(fmt::format("tasks.close_io {}: not found", container_id));
  process->stdin_closed = true;
  return Status::Ok();
}

Status FakeClient::ResizePty(const std::string& container_id, const std::string& exec_id,
                             uint32_t width, uint32_t height) {
  std::lock_guard lock(mu_);
  ZLAYER_RETURN_IF_ERROR(Enter(Method::kResizePty));
  std::string context = fmt::format("tasks.resize_pty {}", container_id);
  Process* process = FindProcess(container_id, exec_id);
  if (!process) return NotFoundError(context + ": not found");
  if (!process->info.terminal) return FailedPreconditionError(context + ": no terminal");
  process->pty_width = width;
  process->pty_height = height;
  return Status::Ok();
}

// --- events ---------------------------------------------------------------------------------

std::unique_ptr<EventSubscription> FakeClient::SubscribeEvents(
    const std::vector<std::string>& filters, std::function<void(const Event&)> on_event,
    std::function<void(const Status&)> on_end) {
  auto subscription = std::make_shared<Subscription>();
  subscription->on_event = std::move(on_event);
  subscription->on_end = std::move(on_end);
  Status status;
  {
    std::lock_guard lock(mu_);
    status = Enter(Method::kSubscribeEvents);
    for (const std::string& filter : filters) {
      if (!status.ok()) break;
      Result<std::vector<FilterTerm>> terms = ParseFilter(filter);
      if (!terms.ok()) {
        status = terms.status().Wrap("events.subscribe");
        break;
      }
      subscription->filters.push_back(*terms);
    }
    if (status.ok()) {
      std::erase_if(subscriptions_, [](const auto& s) { return s->ended.load(); });
      subscriptions_.push_back(subscription);
    }
  }
  if (!status.ok()) subscription->End(status);
  return std::make_unique<SubscriptionHandle>(subscription);
}

void FakeClient::BreakEventStreams(const Status& reason) {
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    std::lock_guard lock(mu_);
    subs.swap(subscriptions_);
  }
  for (auto& s : subs) s->End(reason);
}

// --- garbage collection ------------------------------------------------------------------------

void FakeClient::CollectGarbage() {
  std::lock_guard lock(mu_);
  CollectGarbageLocked();
}

void FakeClient::CollectGarbageLocked() {
  std::set<std::string> live_content;
  std::set<std::pair<std::string, std::string>> live_snapshots;
  std::vector<std::string> content_queue;
  std::vector<std::pair<std::string, std::string>> snapshot_queue;

  auto follow_labels = [&](const Labels& labels) {
    for (const auto& [key, value] : labels) {
      if (IsGcRef(key, "containerd.io/gc.ref.content")) content_queue.push_back(value);
      if (key.rfind(kLabelGcRefSnapshotPrefix, 0) == 0) {
        std::string snapshotter = key.substr(std::string(kLabelGcRefSnapshotPrefix).size());
        snapshotter = snapshotter.substr(0, snapshotter.find('/'));
        snapshot_queue.emplace_back(snapshotter, value);
      }
    }
  };

  auto now = std::chrono::system_clock::now();
  for (const auto& [id, lease] : leases_) {
    if (lease.expires < now) continue;
    content_queue.insert(content_queue.end(), lease.content.begin(), lease.content.end());
    snapshot_queue.insert(snapshot_queue.end(), lease.snapshots.begin(), lease.snapshots.end());
  }
  for (const auto& [name, image] : images_) {
    content_queue.push_back(image.target.digest);
    follow_labels(image.labels);
  }
  for (const auto& [id, c] : containers_) {
    if (!c.snapshot_key.empty()) snapshot_queue.emplace_back(c.snapshotter, c.snapshot_key);
    follow_labels(c.labels);
  }
  for (const auto& [digest, blob] : content_) {
    if (blob.labels.count("containerd.io/gc.root")) content_queue.push_back(digest);
  }
  for (const auto& [snapshotter, all] : snapshots_) {
    for (const auto& [key, s] : all) {
      if (s.info.labels.count("containerd.io/gc.root"))
        snapshot_queue.emplace_back(snapshotter, key);
    }
  }
  for (const auto& [ref, ingest] : ingests_) content_queue.push_back(ingest.expected);

  while (!content_queue.empty() || !snapshot_queue.empty()) {
    if (!content_queue.empty()) {
      std::string digest = content_queue.back();
      content_queue.pop_back();
      auto it = content_.find(digest);
      if (it == content_.end() || !live_content.insert(digest).second) continue;
      follow_labels(it->second.labels);
      continue;
    }
    auto [snapshotter, key] = snapshot_queue.back();
    snapshot_queue.pop_back();
    auto all = snapshots_.find(snapshotter);
    if (all == snapshots_.end()) continue;
    auto it = all->second.find(key);
    if (it == all->second.end() || !live_snapshots.insert({snapshotter, key}).second) continue;
    follow_labels(it->second.info.labels);
    if (!it->second.info.parent.empty())
      snapshot_queue.emplace_back(snapshotter, it->second.info.parent);
  }

  std::erase_if(content_, [&](const auto& entry) { return !live_content.count(entry.first); });
  for (auto& [snapshotter, all] : snapshots_) {
    std::erase_if(all, [&, &snapshotter = snapshotter](const auto& entry) {
      return !live_snapshots.count({snapshotter, entry.first});
    });
  }
}

// --- test hooks ----------------------------------------------------------------------------------

void FakeClient::FailNext(Method method, Status status) {
  std::lock_guard lock(mu_);
  failures_[method].push_back(std::move(status));
}

int FakeClient::CallCount(Method method) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

void FakeClient::ResetCallCounts() {
  std::lock_guard lock(mu_);
  calls_.clear();
}

void FakeClient::SetVersion(VersionInfo version) {
  std::lock_guard lock(mu_);
  version_ = std::move(version);
}

Labels FakeClient::NamespaceLabels() const {
  std::lock_guard lock(mu_);
  return namespace_labels_;
}

std::vector<std::string> FakeClient::LeaseIds() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, lease] : leases_) out.push_back(id);
  return out;
}

std::vector<std::string> FakeClient::ContentDigests() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [digest, blob] : content_) out.push_back(digest);
  return out;
}

std::string FakeClient::AddContent(const std::string& data, const Labels& labels) {
  std::lock_guard lock(mu_);
  std::string digest = oci::Sha256Digest(data);
  content_[digest] = Blob{data, labels};
  return digest;
}

void FakeClient::CorruptContent(const std::string& digest, const std::string& data) {
  std::lock_guard lock(mu_);
  content_.at(digest).data = data;
}

std::map<std::string, std::string> FakeClient::Ingests() const {
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> out;
  for (const auto& [ref, ingest] : ingests_) out[ref] = ingest.data;
  return out;
}

void FakeClient::SetIngest(const std::string& ref, const std::string& expected_digest,
                           const std::string& data) {
  std::lock_guard lock(mu_);
  ingests_[ref] = Ingest{expected_digest, data, false};
}

void FakeClient::InterruptNextWrite(int64_t after_bytes) {
  std::lock_guard lock(mu_);
  interrupt_write_after_ = after_bytes;
}

std::vector<std::string> FakeClient::SnapshotKeys(const std::string& snapshotter) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  auto s = snapshots_.find(snapshotter);
  if (s == snapshots_.end()) return out;
  for (const auto& [key, snapshot] : s->second) out.push_back(key);
  return out;
}

std::vector<std::string> FakeClient::AppliedDiffs(const std::string& snapshotter,
                                                  const std::string& key) const {
  std::lock_guard lock(mu_);
  auto s = snapshots_.find(snapshotter);
  if (s == snapshots_.end() || !s->second.count(key)) return {};
  return s->second.at(key).applied;
}

void FakeClient::SetKillHandler(KillHandler handler) {
  std::lock_guard lock(mu_);
  kill_handler_ = std::move(handler);
}

}  // namespace zlayer::containerd
