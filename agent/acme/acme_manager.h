// Obtains and renews the ingress's ACME certificates, one host at a time, by
// running lego (agent/acme/lego_command.h) through a ProcessRunner with its
// HTTP-01 challenge server on settings.challenge_address.
//
// The rules, for every host given to SetHosts:
//   - a wildcard or a name that is not a plain DNS name is refused: never run,
//     its status says why (HTTP-01 cannot validate wildcard names);
//   - no certificate in data_dir/certificates/<host>.crt: obtain one (`run`);
//   - a certificate expiring within renew_before: renew it (`renew`);
//   - a failed run is retried after first_retry, doubled per consecutive
//     failure up to max_retry; when lego's output carries the CA's "retry
//     after" time (rate limits) and it is later, that time wins;
//   - after a success, the host does not run again before check_interval has
//     passed (a certificate shorter-lived than renew_before would otherwise
//     be renewed in a loop);
//   - never more than one lego at a time (one challenge port): due hosts wait
//     their turn, in host order;
//   - expiry is read from the certificate files (OpenSSL, on the files pool)
//     when a host is added once Start was called, at Start, after each
//     successful run, and again every check_interval; the manager also wakes
//     up when a renewal or a retry falls due.
// A host no longer listed is forgotten (its files stay; a run in flight for it
// finishes and is ignored). State lives in memory only: the certificates'
// expiry is on disk, and back-off restarts from zero with the agent.
//
// Thread safety: none. Construct, call and destroy on the loop's thread; the
// OnCertificate callback runs there. Nothing here blocks the loop. Destroying
// the manager cancels its alarm; results still in flight are then ignored (a
// lego still running ends by itself or at its deadline).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/acme/lego_command.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/process_runner.h"
#include "common/status.h"

namespace zlayer::agent::acme {

struct AcmeCertificateStatus {
  std::string host;
  // The current certificate's expiry; nullopt while there is none (or it was
  // not read yet).
  std::optional<std::chrono::system_clock::time_point> not_after;
  // Why the last run failed, or why the host is refused; "" after a success.
  std::string last_error;
  // When the next run is due: the retry time after a failure, "now" for a
  // host waiting its turn, the start of the renewal window for a certificate
  // that is fine. nullopt for a refused host and while a run is in progress.
  std::optional<std::chrono::system_clock::time_point> next_attempt;
  bool in_progress = false;
  // Wildcards and invalid names: never run.
  bool refused = false;
};

class AcmeManager {
 public:
  // `files`, `clock`, `runner` and `log` are not owned and must outlive the
  // manager. settings.data_dir and lego_program must be absolute.
  AcmeManager(boost::asio::io_context& loop, boost::asio::thread_pool& files, Clock& clock,
              ProcessRunner& runner, AcmeSettings settings, Logger& log);
  ~AcmeManager();
  AcmeManager(const AcmeManager&) = delete;
  AcmeManager& operator=(const AcmeManager&) = delete;

  // Level-triggered: the hosts that need an ACME certificate now (the ingress
  // passes its https hosts that have no user certificate). Duplicates are
  // ignored. Works before Start too; nothing runs until Start.
  void SetHosts(std::vector<std::string> hosts);

  // Called on the loop after a certificate for `host` was obtained or renewed
  // (its files are in place: the ingress then loads them). Replaces an earlier
  // callback.
  void OnCertificate(std::function<void(const std::string& host)> callback);

  // One entry per host of the last SetHosts, sorted by host.
  std::vector<AcmeCertificateStatus> Status() const;

  // Reads the existing certificates' expiry (off the loop), then runs what is
  // due and arms the periodic check. Call once.
  void Start();

 private:
  using SteadyTime = Clock::SteadyTime;
  using WallTime = Clock::WallTime;

  struct Host {
    uint64_t generation = 0;  // tells a re-added host from the one forgotten
    std::string refusal;      // non-empty: never run
    bool loaded = false;      // expiry read at least once
    bool loading = false;     // a read is in flight
    std::optional<WallTime> not_after;
    std::string serial;  // of the certificate read last: tells a renewal happened
    std::string last_error;
    int failures = 0;  // consecutive
    std::optional<SteadyTime> retry_at;
  };

  bool NeedsWork(const Host& host) const;
  bool Due(const Host& host) const;
  void Load(const std::string& name, Host& host);
  void Pump();
  void RunLego(const std::string& name, Host& host);
  void OnLegoDone(const std::string& name, uint64_t generation, LegoAction action,
                  Result<ProcessResult> outcome);
  void OnCertificateRead(const std::string& name, uint64_t generation, LegoAction action,
                         Result<CertificateInfo> info);
  void Fail(const std::string& name, Host& host, std::string error,
            std::optional<WallTime> retry_after);
  void Arm();
  void OnAlarm();
  Host* Find(const std::string& name, uint64_t generation);

  boost::asio::io_context& loop_;
  boost::asio::thread_pool& files_;
  Clock& clock_;
  ProcessRunner& runner_;
  const AcmeSettings settings_;
  Logger& log_;
  std::function<void(const std::string&)> on_certificate_;

  std::map<std::string, Host> hosts_;
  uint64_t next_generation_ = 1;
  bool started_ = false;
  // The host whose lego run (and the read of its new certificate) is in flight.
  std::optional<std::string> running_;
  SteadyTime next_check_{};
  Alarm alarm_;
  // Callbacks in flight hold a weak_ptr to this: destroyed means ignored.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

// The delay before retry number `failures` (1 = after the first failure):
// first_retry * 2^(failures-1), at most max_retry.
std::chrono::nanoseconds RetryDelay(const AcmeSettings& settings, int failures);

}  // namespace zlayer::agent::acme
