#include "agent/network/dns/hosts_dir_records.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

namespace zlayer::agent::network {
namespace {

namespace fs = std::filesystem;

Status CheckDeploymentName(const std::string& deployment) {
  if (deployment.empty() || deployment[0] == '.' || deployment.find('/') != std::string::npos ||
      deployment.find('\0') != std::string::npos) {
    return InvalidArgumentError("dns: \"" + deployment + "\" cannot name a hosts file");
  }
  return Status::Ok();
}

// The file's content; NotFound when it does not exist.
Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFoundError(path);
    return ErrnoError("open " + path);
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError("read " + path, err);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

Status WriteFile(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create " + path);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return ErrnoError("write " + path, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return ErrnoError("close " + path);
  return Status::Ok();
}

}  // namespace

// --- InMemoryDnsRecords -----------------------------------------------------------

Status InMemoryDnsRecords::SetDeployment(const std::string& deployment,
                                         const std::vector<DnsRecord>& records) {
  if (Status s = CheckDeploymentName(deployment); !s.ok()) return s;
  std::lock_guard lock(mu_);
  ++set_calls_;
  if (!fail_with_.ok()) return fail_with_;
  if (records.empty()) {
    records_.erase(deployment);
  } else {
    records_[deployment] = records;
  }
  return Status::Ok();
}

Result<std::vector<std::string>> InMemoryDnsRecords::Deployments() {
  std::lock_guard lock(mu_);
  if (!fail_with_.ok()) return fail_with_;
  std::vector<std::string> names;
  for (const auto& [name, records] : records_) names.push_back(name);
  return names;
}

std::vector<DnsRecord> InMemoryDnsRecords::Records(const std::string& deployment) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(deployment);
  return it == records_.end() ? std::vector<DnsRecord>{} : it->second;
}

int InMemoryDnsRecords::set_calls() const {
  std::lock_guard lock(mu_);
  return set_calls_;
}

void InMemoryDnsRecords::FailWith(Status status) {
  std::lock_guard lock(mu_);
  fail_with_ = std::move(status);
}

// --- HostsDirRecords ---------------------------------------------------------------

HostsDirRecords::HostsDirRecords(std::string dir, std::chrono::seconds empty_file_grace)
    : dir_(std::move(dir)), empty_file_grace_(empty_file_grace) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
}

Status HostsDirRecords::SetDeployment(const std::string& deployment,
                                      const std::vector<DnsRecord>& records) {
  if (Status s = CheckDeploymentName(deployment); !s.ok()) return s;
  const std::string path = dir_ + "/" + deployment;
  const std::string temp = dir_ + ".tmp-" + deployment;
  const std::string text = RenderHostsFile(records);

  std::lock_guard lock(mu_);
  auto current = ReadFile(path);
  if (!current.ok() && current.status().code() != StatusCode::kNotFound) return current.status();
  if (current.ok() && *current == text) {
    // Unchanged. An empty file here was dropped by an earlier call, which
    // dnsmasq has read since: it can go now.
    if (text.empty() && ::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoError("remove " + path);
    }
    return Status::Ok();
  }
  if (!current.ok() && text.empty()) return Status::Ok();  // no names, no file

  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return ErrnoError("create " + dir_, ec.value());
  if (Status s = WriteFile(temp, text); !s.ok()) return s;
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return ErrnoError("rename " + temp + " to " + path, err);
  }
  return Status::Ok();
}

Result<std::vector<std::string>> HostsDirRecords::Deployments() {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir_, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return names;
    return ErrnoError("list " + dir_, ec.value());
  }
  const auto now = fs::file_time_type::clock::now();
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return ErrnoError("list " + dir_, ec.value());
    const std::string name = it->path().filename().string();
    std::error_code entry_ec;
    if (name.empty() || name[0] == '.' || !it->is_regular_file(entry_ec)) continue;
    const auto size = it->file_size(entry_ec);
    if (entry_ec) continue;  // removed meanwhile
    if (size > 0) {
      names.push_back(name);
      continue;
    }
    const auto written = it->last_write_time(entry_ec);
    if (!entry_ec && now - written >= empty_file_grace_) {
      fs::remove(it->path(), entry_ec);  // best effort: an empty file holds no names
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace zlayer::agent::network
