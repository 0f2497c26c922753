#include "agent/acme/acme_manager.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <utility>

#include "common/executors.h"
#include "common/rfc3339.h"

namespace zlayer::agent::acme {

std::chrono::nanoseconds RetryDelay(const AcmeSettings& settings, int failures) {
  std::chrono::nanoseconds delay = settings.first_retry;
  for (int i = 1; i < failures && delay < settings.max_retry; ++i) delay *= 2;
  return std::min(delay, settings.max_retry);
}

AcmeManager::AcmeManager(boost::asio::io_context& loop, boost::asio::thread_pool& files,
                         Clock& clock, ProcessRunner& runner, AcmeSettings settings, Logger& log)
    : loop_(loop),
      files_(files),
      clock_(clock),
      runner_(runner),
      settings_(std::move(settings)),
      log_(log) {}

AcmeManager::~AcmeManager() = default;

void AcmeManager::OnCertificate(std::function<void(const std::string& host)> callback) {
  on_certificate_ = std::move(callback);
}

void AcmeManager::SetHosts(std::vector<std::string> hosts) {
  std::set<std::string> wanted(hosts.begin(), hosts.end());
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    if (wanted.count(it->first) == 0) {
      log_.Info("acme: {}: no longer needs a certificate from the CA", it->first);
      it = hosts_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& name : wanted) {
    if (hosts_.count(name) != 0) continue;
    Host& host = hosts_[name];
    host.generation = next_generation_++;
    if (zlayer::Status valid = ValidateHost(name); !valid.ok()) {
      host.refusal = valid.message();
      log_.Warn("acme: no certificate from the CA for {}", host.refusal);
      continue;
    }
    if (started_) Load(name, host);
  }
  Pump();
  Arm();
}

std::vector<AcmeCertificateStatus> AcmeManager::Status() const {
  std::vector<AcmeCertificateStatus> out;
  const SteadyTime now = clock_.SteadyNow();
  const WallTime wall_now = clock_.WallNow();
  for (const auto& [name, host] : hosts_) {
    AcmeCertificateStatus status;
    status.host = name;
    status.not_after = host.not_after;
    status.in_progress = running_ == name;
    status.refused = !host.refusal.empty();
    status.last_error = status.refused ? host.refusal : host.last_error;
    if (!status.refused && !status.in_progress) {
      if (host.retry_at && NeedsWork(host)) {
        status.next_attempt = wall_now + std::max(*host.retry_at - now, SteadyTime::duration(0));
      } else if (!host.not_after) {
        status.next_attempt = wall_now;
      } else {
        status.next_attempt = std::max(*host.not_after - settings_.renew_before, wall_now);
      }
    }
    out.push_back(std::move(status));
  }
  return out;
}

void AcmeManager::Start() {
  if (started_) return;
  started_ = true;
  next_check_ = clock_.SteadyNow() + settings_.check_interval;
  for (auto& [name, host] : hosts_) {
    if (host.refusal.empty()) Load(name, host);
  }
  Arm();
}

bool AcmeManager::NeedsWork(const Host& host) const {
  if (!host.refusal.empty() || !host.loaded) return false;
  return !host.not_after || *host.not_after - settings_.renew_before <= clock_.WallNow();
}

bool AcmeManager::Due(const Host& host) const {
  return !host.loading && NeedsWork(host) &&
         (!host.retry_at || *host.retry_at <= clock_.SteadyNow());
}

AcmeManager::Host* AcmeManager::Find(const std::string& name, uint64_t generation) {
  auto it = hosts_.find(name);
  if (it == hosts_.end() || it->second.generation != generation) return nullptr;
  return &it->second;
}

void AcmeManager::Load(const std::string& name, Host& host) {
  if (host.loading) return;
  host.loading = true;
  RunOff(
      files_, loop_,
      [path = CertificatePath(settings_, name)] { return ReadCertificateInfo(path); },
      [this, alive = std::weak_ptr<int>(alive_), name,
       generation = host.generation](Result<CertificateInfo> info) {
        if (alive.expired()) return;
        Host* host = Find(name, generation);
        if (host == nullptr) return;
        host->loading = false;
        host->loaded = true;
        if (info.ok()) {
          host->not_after = info->not_after;
          host->serial = info->serial;
        } else {
          host->not_after.reset();
          host->serial.clear();
          if (info.status().code() != StatusCode::kNotFound) {
            log_.Warn("acme: {}: {}; obtaining a new one", name, info.status().message());
          }
        }
        Pump();
        Arm();
      });
}

void AcmeManager::Pump() {
  if (!started_ || running_) return;
  for (auto& [name, host] : hosts_) {
    if (Due(host)) {
      RunLego(name, host);
      return;
    }
  }
}

void AcmeManager::RunLego(const std::string& name, Host& host) {
  const LegoAction action = host.not_after ? LegoAction::kRenew : LegoAction::kObtain;
  running_ = name;
  if (action == LegoAction::kObtain) {
    log_.Info("acme: {}: obtaining a certificate from {}", name, settings_.directory_url);
  } else {
    log_.Info("acme: {}: renewing the certificate that expires at {}", name,
              FormatRfc3339Nano(*host.not_after));
  }
  runner_.Run(LegoRequest(settings_, action, name),
              [this, alive = std::weak_ptr<int>(alive_), name, generation = host.generation,
               action](Result<ProcessResult> outcome) {
                if (alive.expired()) return;
                OnLegoDone(name, generation, action, std::move(outcome));
              });
}

void AcmeManager::OnLegoDone(const std::string& name, uint64_t generation, LegoAction action,
                             Result<ProcessResult> outcome) {
  Host* host = Find(name, generation);
  if (outcome.ok()) {
    for (const std::string* stream : {&outcome->stdout_data, &outcome->stderr_data}) {
      size_t start = 0;
      while (start < stream->size()) {
        size_t end = std::min(stream->find('\n', start), stream->size());
        if (end > start) log_.Debug("acme: {}: lego: {}", name, stream->substr(start, end - start));
        start = end + 1;
      }
    }
  }
  if (host == nullptr) {  // forgotten meanwhile
    running_.reset();
    Pump();
    Arm();
    return;
  }
  if (!outcome.ok()) {
    running_.reset();
    Fail(name, *host, "lego: " + outcome.status().message(), std::nullopt);
  } else if (outcome->exit_code != 0 || outcome->term_signal != 0) {
    const std::string output = outcome->stderr_data + "\n" + outcome->stdout_data;
    std::string error = LegoErrorLine(*outcome);
    std::optional<WallTime> retry_after = LegoRetryAfter(output, clock_.WallNow());
    if (AccountUnknown(output)) {
      // The CA forgot the account (a reset CA, a deactivated account): the
      // next run registers a new one. running_ stays set until it is removed.
      log_.Warn("acme: the CA does not know the account of {}; a new one is registered next",
                settings_.email);
      RunOff(
          files_, loop_,
          [dir = AccountDir(settings_)] {
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
          },
          [this, alive = std::weak_ptr<int>(alive_), name, generation, error, retry_after] {
            if (alive.expired()) return;
            running_.reset();
            if (Host* host = Find(name, generation)) Fail(name, *host, error, retry_after);
            Pump();
            Arm();
          });
      return;
    }
    running_.reset();
    Fail(name, *host, std::move(error), retry_after);
  } else {
    // running_ stays set until the new certificate was read: still one at a time.
    RunOff(
        files_, loop_,
        [path = CertificatePath(settings_, name)] { return ReadCertificateInfo(path); },
        [this, alive = std::weak_ptr<int>(alive_), name, generation,
         action](Result<CertificateInfo> info) {
          if (alive.expired()) return;
          OnCertificateRead(name, generation, action, std::move(info));
        });
    return;
  }
  Pump();
  Arm();
}

void AcmeManager::OnCertificateRead(const std::string& name, uint64_t generation, LegoAction action,
                                    Result<CertificateInfo> info) {
  running_.reset();
  Host* host = Find(name, generation);
  if (host != nullptr) {
    if (!info.ok()) {
      Fail(name, *host, "lego succeeded but " + info.status().message(), std::nullopt);
    } else if (action == LegoAction::kRenew && host->serial == info->serial) {
      // lego decided not to renew: do not ask again at once.
      Fail(name, *host, "lego did not renew the certificate", std::nullopt);
    } else {
      host->not_after = info->not_after;
      host->serial = info->serial;
      host->loaded = true;
      host->failures = 0;
      host->last_error.clear();
      // A certificate shorter-lived than the window is due again at once:
      // renew it once per check_interval, not in a loop.
      host->retry_at = clock_.SteadyNow() + settings_.check_interval;
      log_.Info("acme: {}: certificate {}, valid until {}", name,
                action == LegoAction::kObtain ? "obtained" : "renewed",
                FormatRfc3339Nano(info->not_after));
      if (on_certificate_) on_certificate_(name);
    }
  }
  Pump();
  Arm();
}

void AcmeManager::Fail(const std::string& name, Host& host, std::string error,
                       std::optional<WallTime> retry_after) {
  host.failures++;
  std::chrono::nanoseconds delay = RetryDelay(settings_, host.failures);
  if (retry_after) {
    delay = std::max(delay, std::chrono::duration_cast<std::chrono::nanoseconds>(*retry_after -
                                                                                 clock_.WallNow()));
  }
  host.retry_at = clock_.SteadyNow() + delay;
  host.last_error = std::move(error);
  log_.Warn("acme: {}: {} (failure {}, next attempt in {}s)", name, host.last_error, host.failures,
            std::chrono::duration_cast<std::chrono::seconds>(delay).count());
}

void AcmeManager::Arm() {
  if (!started_) return;
  const SteadyTime now = clock_.SteadyNow();
  const WallTime wall_now = clock_.WallNow();
  SteadyTime wake = next_check_;
  for (const auto& [name, host] : hosts_) {
    if (!host.refusal.empty() || !host.loaded || host.loading) continue;
    if (NeedsWork(host)) {
      if (host.retry_at && *host.retry_at > now) wake = std::min(wake, *host.retry_at);
    } else if (host.not_after) {
      wake = std::min(wake, now + (*host.not_after - settings_.renew_before - wall_now));
    }
  }
  alarm_ = clock_.At(std::max(wake, now), [this] { OnAlarm(); });
}

void AcmeManager::OnAlarm() {
  if (clock_.SteadyNow() >= next_check_) {
    next_check_ = clock_.SteadyNow() + settings_.check_interval;
    // Look at the files again: a certificate replaced or removed behind our back.
    for (auto& [name, host] : hosts_) {
      if (host.refusal.empty() && running_ != name) Load(name, host);
    }
  }
  Pump();
  Arm();
}

}  // namespace zlayer::agent::acme
