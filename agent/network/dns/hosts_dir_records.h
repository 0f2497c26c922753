// Where the agent keeps the DNS server's records: one hosts file per
// deployment in dnsmasq's --hostsdir (<ZLAYER_RUN_DIR>/dns/hosts, see
// DnsHostsDir in common/config.h), which dnsmasq rereads through inotify as
// soon as a file is renamed in. zlayer-init runs dnsmasq (supervisor/dnsmasq.h).
//
// dnsmasq 2.90's behaviour this relies on (machine-notes "Networking pieces"):
//   - a file renamed into the directory replaces that file's names at once;
//   - a temporary file written inside the directory would be read too, so it is
//     written next to the directory (same filesystem) and renamed in;
//   - a deleted file's names stay until SIGHUP, so names are dropped by
//     renaming an empty file over the deployment's file; the empty file is
//     removed later (see Deployments()), once dnsmasq has long read it.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "agent/network/dns/dns_records.h"
#include "common/status.h"

namespace zlayer::agent::network {

class DnsRecords {
 public:
  virtual ~DnsRecords() = default;

  // Replaces every name of `deployment` with `records` (DeploymentDnsRecords).
  // An empty vector drops all of them. kInvalidArgument for a deployment name
  // that cannot be a file name (empty, ".", "..", "/", leading dot); otherwise
  // the errno error of the failing step, naming the file.
  //
  // Blocking (file I/O): callers run it on a pool, never on the event loop.
  virtual Status SetDeployment(const std::string& deployment,
                               const std::vector<DnsRecord>& records) = 0;

  // The deployments that have names, sorted: for the clean-up at start (names
  // of deployments that no longer exist are dropped with SetDeployment(d, {})).
  // Blocking, like SetDeployment.
  virtual Result<std::vector<std::string>> Deployments() = 0;
};

// The records in memory (the fake for tests of the callers). Thread safety:
// calls are serialized by an internal mutex.
class InMemoryDnsRecords : public DnsRecords {
 public:
  Status SetDeployment(const std::string& deployment,
                       const std::vector<DnsRecord>& records) override;
  Result<std::vector<std::string>> Deployments() override;

  // What SetDeployment stored for `deployment` (empty when none).
  std::vector<DnsRecord> Records(const std::string& deployment) const;
  // How many SetDeployment calls were made, and a status to fail the next ones with.
  int set_calls() const;
  void FailWith(Status status);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<DnsRecord>> records_;
  int set_calls_ = 0;
  Status fail_with_ = Status::Ok();
};

// The records as files in dnsmasq's hosts directory: <dir>/<deployment>, each
// rendered by RenderHostsFile. Temporary files are <dir>.tmp-<deployment>
// (beside the directory, so `dir` must not be a mount point of its own).
//
// A write is skipped when the file already holds exactly that content, so the
// agent may call SetDeployment on every change of the deployment without
// making dnsmasq reread anything. No fsync: the directory lives on tmpfs and
// the agent rewrites every deployment's names when it starts.
//
// Thread safety: calls are serialized by an internal mutex.
class HostsDirRecords : public DnsRecords {
 public:
  // `dir` is created (with its parents) on the first write if missing;
  // zlayer-init creates it before starting dnsmasq.
  explicit HostsDirRecords(std::string dir,
                           std::chrono::seconds empty_file_grace = std::chrono::seconds(10));

  Status SetDeployment(const std::string& deployment,
                       const std::vector<DnsRecord>& records) override;
  // Deployments with a non-empty file. Also removes empty files (dropped
  // deployments) older than `empty_file_grace`: dnsmasq has read them by then,
  // and a removed empty file leaves no names behind.
  Result<std::vector<std::string>> Deployments() override;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::chrono::seconds empty_file_grace_;
  std::mutex mu_;
};

}  // namespace zlayer::agent::network
