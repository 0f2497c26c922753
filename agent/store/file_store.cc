#include "agent/store/file_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/rfc3339.h"

namespace zlayer::agent::store {
namespace {

constexpr int kFormat = 1;
constexpr std::string_view kJsonSuffix = ".json";
constexpr std::string_view kTempSuffix = ".tmp";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError(fmt::format("mkdir {}", path));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoError(fmt::format("stat {}", path));
  if (!S_ISDIR(st.st_mode))
    return FailedPreconditionError(fmt::format("{}: not a directory", path));
  return Status::Ok();
}

Result<std::string> ReadWholeFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(fmt::format("open {}", path));
  std::string data;
  char buf[16 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = ErrnoError(fmt::format("read {}", path));
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

int WriteFully(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

// The stored form. Fails (kInvalidArgument) only for a spec that is not UTF-8.
Result<std::string> Serialize(const StoredDeployment& d) {
  nlohmann::ordered_json json;
  json["format"] = kFormat;
  json["name"] = d.name;
  json["generation"] = d.generation;
  json["spec_yaml"] = d.spec_yaml;
  json["applied_at"] = FormatRfc3339Nano(d.applied_at);
  try {
    return json.dump(2) + "\n";
  } catch (const nlohmann::json::type_error&) {
    return InvalidArgumentError(fmt::format("deployment {}: spec is not valid UTF-8", d.name));
  }
}

// Parses a stored file; a kDataLoss Status describes what is wrong with it.
Result<StoredDeployment> Parse(std::string_view text, std::string_view expected_name) {
  auto corrupt = [](std::string what) { return Status(StatusCode::kDataLoss, std::move(what)); };
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, ...".
    std::string what = e.what();
    size_t start = what.find("] ");
    return corrupt(start == std::string::npos ? what : what.substr(start + 2));
  }
  if (!json.is_object()) return corrupt("not a JSON object");
  if (json.contains("format") && json["format"] != kFormat) {
    return corrupt(
        fmt::format("unknown format {} (this agent reads {})", json["format"].dump(), kFormat));
  }
  // The field `key` if present with the type `is_type` checks, else null.
  auto field = [&json](const char* key,
                       bool (nlohmann::json::*is_type)() const noexcept) -> const nlohmann::json* {
    auto it = json.find(key);
    if (it == json.end() || !((*it).*is_type)()) return nullptr;
    return &*it;
  };
  const auto* name = field("name", &nlohmann::json::is_string);
  const auto* generation = field("generation", &nlohmann::json::is_number_unsigned);
  const auto* spec = field("spec_yaml", &nlohmann::json::is_string);
  const auto* applied_at = field("applied_at", &nlohmann::json::is_string);
  if (!name) return corrupt("\"name\" missing or not a string");
  if (!generation) return corrupt("\"generation\" missing or not an unsigned integer");
  if (!spec) return corrupt("\"spec_yaml\" missing or not a string");
  if (!applied_at) return corrupt("\"applied_at\" missing or not a string");
  if (name->get_ref<const std::string&>() != expected_name) {
    return corrupt(fmt::format("holds deployment {:?}, not {:?}",
                               name->get_ref<const std::string&>(), expected_name));
  }
  auto time = ParseRfc3339(applied_at->get_ref<const std::string&>());
  if (!time.ok()) return corrupt(fmt::format("\"applied_at\": {}", time.status().message()));
  return StoredDeployment{name->get<std::string>(), generation->get<uint64_t>(),
                          spec->get<std::string>(), *time};
}

}  // namespace

Result<std::unique_ptr<FileStore>> FileStore::Open(std::string dir) {
  ZLAYER_RETURN_IF_ERROR(MakeDir(dir));
  std::string deployments = dir + "/deployments";
  ZLAYER_RETURN_IF_ERROR(MakeDir(deployments));
  return std::unique_ptr<FileStore>(new FileStore(std::move(deployments)));
}

std::string FileStore::PathOf(std::string_view name) const {
  return fmt::format("{}/{}{}", deployments_dir_, name, kJsonSuffix);
}

Status FileStore::SyncDirectory() const {
  int fd = ::open(deployments_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(fmt::format("open {}", deployments_dir_));
  Status s =
      ::fsync(fd) == 0 ? Status::Ok() : ErrnoError(fmt::format("fsync {}", deployments_dir_));
  ::close(fd);
  return s;
}

Status FileStore::Save(const StoredDeployment& deployment) {
  ZLAYER_RETURN_IF_ERROR(ValidateDeploymentName(deployment.name));
  auto text = Serialize(deployment);
  if (!text.ok()) return text.status();
  std::string path = PathOf(deployment.name);

  // A stored generation that cannot be read (corrupt file) does not block
  // the write that replaces it.
  if (auto current = ReadWholeFile(path); current.ok()) {
    auto stored = Parse(*current, deployment.name);
    if (stored.ok() && stored->generation > deployment.generation) {
      return FailedPreconditionError(
          fmt::format("deployment {}: generation {} is older than the stored {}", deployment.name,
                      deployment.generation, stored->generation));
    }
  }

  std::string temp =
      fmt::format("{}/.{}{}.XXXXXX{}", deployments_dir_, deployment.name, kJsonSuffix, kTempSuffix);
  int fd = ::mkostemps(temp.data(), static_cast<int>(kTempSuffix.size()), O_CLOEXEC);
  if (fd < 0) return ErrnoError(fmt::format("create a temporary file in {}", deployments_dir_));
  auto fail = [&](Status s) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    return s;
  };
  if (int err = WriteFully(fd, *text); err != 0) {
    return fail(ErrnoError(fmt::format("write {}", temp), err));
  }
  if (::fsync(fd) != 0) return fail(ErrnoError(fmt::format("fsync {}", temp)));
  if (::close(fd) != 0) {
    fd = -1;
    return fail(ErrnoError(fmt::format("close {}", temp)));
  }
  fd = -1;
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return fail(ErrnoError(fmt::format("rename {} to {}", temp, path)));
  }
  return SyncDirectory().Wrap(fmt::format("save {}", path));
}

Result<LoadedState> FileStore::LoadAll() {
  LoadedState state;
  std::error_code ec;
  std::filesystem::directory_iterator it(deployments_dir_, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string file = it->path().filename().string();
    std::string path = it->path().string();
    if (file.front() == '.' && EndsWith(file, kTempSuffix)) {
      // Left by a Save that crashed before its rename: the old file is intact.
      ::unlink(path.c_str());
      continue;
    }
    if (file.front() == '.' || !EndsWith(file, kJsonSuffix)) continue;
    std::string name = file.substr(0, file.size() - kJsonSuffix.size());
    if (Status s = ValidateDeploymentName(name); !s.ok()) {
      state.problems.push_back({path, Status(StatusCode::kDataLoss, s.message())});
      continue;
    }
    auto text = ReadWholeFile(path);
    if (!text.ok()) {
      state.problems.push_back({path, text.status()});
      continue;
    }
    auto deployment = Parse(*text, name);
    if (!deployment.ok()) {
      state.problems.push_back({path, deployment.status()});
      continue;
    }
    state.deployments.push_back(std::move(*deployment));
  }
  if (ec) return ErrnoError(fmt::format("list {}", deployments_dir_), ec.value());
  std::sort(state.deployments.begin(), state.deployments.end(),
            [](const StoredDeployment& a, const StoredDeployment& b) { return a.name < b.name; });
  std::sort(state.problems.begin(), state.problems.end(),
            [](const LoadProblem& a, const LoadProblem& b) { return a.path < b.path; });
  return state;
}

Status FileStore::Remove(std::string_view name) {
  ZLAYER_RETURN_IF_ERROR(ValidateDeploymentName(name));
  std::string path = PathOf(name);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return NotFoundError(fmt::format("deployment {}: not stored", name));
    return ErrnoError(fmt::format("remove {}", path));
  }
  return SyncDirectory().Wrap(fmt::format("remove {}", path));
}

}  // namespace zlayer::agent::store
