#include "agent/logs/paths.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "agent/logs/log_file.h"

namespace zlayer::agent::logs {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// mkdir -p with `mode` for the directories it creates.
Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return InvalidArgumentError("empty directory path");
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoError(fmt::format("mkdir {}", prefix));
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoError(fmt::format("stat {}", path));
  if (!S_ISDIR(st.st_mode))
    return FailedPreconditionError(fmt::format("{}: not a directory", path));
  return Status::Ok();
}

}  // namespace

Status ValidateContainerId(std::string_view id) {
  auto bad = [&] { return InvalidArgumentError(fmt::format("invalid container id {:?}", id)); };
  if (id.empty() || id.size() > 76) return bad();
  bool previous_alnum = false;
  for (char c : id) {
    if (IsAlnum(c)) {
      previous_alnum = true;
    } else if ((c == '.' || c == '_' || c == '-') && previous_alnum) {
      previous_alnum = false;
    } else {
      return bad();
    }
  }
  return previous_alnum ? Status::Ok() : bad();
}

Result<ContainerIoPaths> IoPathsFor(const NodeConfig& config, std::string_view id) {
  ZLAYER_RETURN_IF_ERROR(ValidateContainerId(id));
  ContainerIoPaths paths;
  paths.container_id = std::string(id);
  paths.fifo_dir = fmt::format("{}/{}", config.state_dir, id);
  paths.stdout_fifo = paths.fifo_dir + "/stdout";
  paths.stderr_fifo = paths.fifo_dir + "/stderr";
  paths.log_dir = fmt::format("{}/logs", config.data_dir);
  paths.log_file = fmt::format("{}/{}.log", paths.log_dir, id);
  return paths;
}

Status PrepareContainerIo(const ContainerIoPaths& paths) {
  ZLAYER_RETURN_IF_ERROR(MakeDirs(paths.fifo_dir, 0700));
  return MakeDirs(paths.log_dir, 0750);
}

Status RemoveContainerIo(const ContainerIoPaths& paths) {
  Status first;
  auto note = [&first](Status s) {
    if (first.ok() && !s.ok()) first = std::move(s);
  };
  std::error_code ec;
  std::filesystem::remove_all(paths.fifo_dir, ec);
  if (ec) note(ErrnoError(fmt::format("remove {}", paths.fifo_dir), ec.value()));

  std::filesystem::directory_iterator it(paths.log_dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (!LogFileIndex(it->path().filename().string(), paths.container_id)) continue;
    if (::unlink(it->path().c_str()) != 0 && errno != ENOENT) {
      note(ErrnoError(fmt::format("remove {}", it->path().string())));
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    note(ErrnoError(fmt::format("list {}", paths.log_dir), ec.value()));
  }
  return first;
}

}  // namespace zlayer::agent::logs
