// The node's ingress (issue 13): keeps HAProxy serving what the reconciler
// says, level-triggered like ServiceNetwork. After every plan it derives the
// proxy's state (ingress/route_table.h) from the desired specs and the
// replicas ready for traffic, and compares it with what HAProxy has:
//   - listeners, routes, backends or certificates changed: the files are
//     written (the certificates and crt-list, the maps, haproxy.cfg, which
//     `haproxy -c` checks before it replaces the working one) and HAProxy is
//     reloaded through its master CLI; the new worker takes over the listening
//     sockets, so no connection is refused;
//   - only servers changed: each one through the runtime API (added, or
//     drained and then deleted: ingress/haproxy_runtime.h), and haproxy.cfg is
//     rewritten so that a reload or a restarted HAProxy has the same servers.
//     A runtime command that fails makes the next change a reload.
// Drain(id) takes a replica out of every backend before its stop signal
// (reconcile::ReplicaNetwork::Drain); a drained replica stays out until the
// reconciler shows it not ready (its restart puts it back).
// The certificate directories are polled every 2 s; a change is a reload.
// HAProxy not running (its master socket missing): the files are written and
// it reads them when zlayer-init (re)starts it.
//
// Threading: on `loop`; files and certificates on `files`; `haproxy -c`
// through the ProcessRunner; the runtime API through HaproxyCommands (on the
// loop). One reload or file write at a time; changes arriving meanwhile are
// coalesced into the next. Nothing blocks the loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/ingress/certificates.h"
#include "agent/ingress/haproxy_config.h"
#include "agent/ingress/haproxy_runtime.h"
#include "agent/ingress/proxy_model.h"
#include "agent/reconcile/reconciler.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/process_runner.h"

namespace zlayer::agent::daemon {

struct IngressSettings {
  IngressPaths paths;
  std::string bind_address;  // "" = every address
  ingress::CertificateDirs certificates;
  std::string haproxy_program;  // absolute, for `haproxy -c`; "" = no check
  // The ACME client's HTTP-01 responder ("address:port"); "" = ACME off. When
  // set, port 80 serves the challenges (ingress/haproxy_config.h), and gets an
  // HTTP listener of its own if no endpoint made one while an https route
  // names a host.
  std::string acme_challenge_address;
};

// With ACME on: adds an HTTP listener without routes on port 80 when an https
// route names a host that HTTP-01 could validate and port 80 has no listener.
// Returns false when port 80 is taken by a tcp or https listener (HTTP-01
// cannot be answered there), true otherwise.
bool AddAcmeChallengeListener(ingress::ProxyState& state);

// The proxy state for the reconciler's current view: its desired specs, and
// each replica in rotation when ReadyForTraffic and not in `drained`. Pure
// but for reading the reconciler; ids of `drained` that are no longer ready
// are erased from it (their stop is over).
ingress::ProxyState DesiredProxyState(const reconcile::Reconciler& reconciler,
                                      std::set<std::string>& drained);

// Whether `a` and `b` differ only in their backends' servers (and udp
// forwards, which nftables serves): then the runtime API can apply the change.
bool SameStructure(const ingress::ProxyState& a, const ingress::ProxyState& b);

class IngressController {
 public:
  // Every reference must outlive this. `admin` is HAProxy's runtime API
  // (IngressPaths::admin_socket), `master` its master CLI.
  IngressController(boost::asio::io_context& loop, boost::asio::thread_pool& files, Clock& clock,
                    reconcile::Reconciler& reconciler, ProcessRunner& processes,
                    ingress::HaproxyCommands& admin, ingress::HaproxyCommands& master,
                    IngressSettings settings, Logger& log);
  ~IngressController();

  // Subscribes to the reconciler and starts polling the certificates. Call
  // after the reconciler started; nothing is published before its first plan.
  void Start();

  // The certificates the TLS listeners serve now (ingress/certificates.h),
  // as of the last reload; empty before the first, and when no listener is
  // https.
  const std::vector<ingress::CertificateEntry>& Certificates() const { return certificates_; }
  // Called on the loop after each reload with the certificates it serves
  // (for ACME: which hosts lack a user certificate; by then port 80 answers
  // the challenges). Replaces an earlier one.
  void OnCertificates(std::function<void(const std::vector<ingress::CertificateEntry>&)> callback) {
    on_certificates_ = std::move(callback);
  }

  // reconcile::ReplicaNetwork::Drain for the ingress: `done` once every
  // backend's server of `id` is drained and deleted, or at `deadline`.
  void Drain(const std::string& id, std::chrono::steady_clock::time_point deadline,
             std::function<void()> done);

 private:
  ingress::HaproxySettings RenderSettings() const;
  void Schedule();
  void Publish();
  void ApplyServers(ingress::ProxyState desired);
  void ApplyAll(ingress::ProxyState desired);
  void Reload(ingress::ProxyState desired, std::string signature);
  void Finish();
  // The end of ApplyAll (reloaded or not): drains that arrived meanwhile are
  // applied to the configuration now served, then Finish.
  void FinishReload();
  void RemoveServer(const std::string& backend, const std::string& server,
                    std::chrono::steady_clock::time_point deadline);
  // Removes replica `id` from every backend HAProxy serves (RemoveServer, bounded by
  // `deadline`); true when it was in one (the files then need rewriting).
  bool TakeOutOfRotation(const std::string& id, std::chrono::steady_clock::time_point deadline);
  void PersistConfig();
  void PollCertificates();

  boost::asio::io_context& loop_;
  boost::asio::thread_pool& files_;
  Clock& clock_;
  reconcile::Reconciler& reconciler_;
  ProcessRunner& processes_;
  ingress::HaproxyCommands& admin_;
  ingress::HaproxyCommands& master_;
  const IngressSettings settings_;
  Logger& log_;

  uint64_t subscription_ = 0;
  bool started_ = false;    // the first plan has been seen
  bool scheduled_ = false;  // a Publish is posted
  bool busy_ = false;       // a reload or file write in flight
  bool again_ = false;      // Publish once the busy work ends
  bool persist_again_ = false;
  bool reloading_ = false;  // an ApplyAll in flight
  std::map<std::string, std::chrono::steady_clock::time_point> drains_after_reload_;
  std::optional<ingress::ProxyState> applied_;  // what HAProxy serves; unset: unknown
  std::string certificate_signature_;           // of the directories, last polled
  std::string applied_signature_;               // the one the served certificates come from
  std::string failed_config_;  // a configuration `haproxy -c` refused: not tried again
  std::set<std::string> drained_;
  std::vector<ingress::CertificateEntry> certificates_;          // served
  std::vector<ingress::CertificateEntry> loading_certificates_;  // written, reload pending
  std::function<void(const std::vector<ingress::CertificateEntry>&)> on_certificates_;
  bool port80_taken_logged_ = false;
  // Server removals in flight, by replica id, and who waits for them.
  std::map<std::string, int> removing_;
  std::map<std::string, std::vector<std::function<void()>>> drain_waiters_;
  Alarm retry_;
  std::chrono::nanoseconds retry_delay_ = std::chrono::seconds(1);  // doubles up to 30 s
  Alarm poll_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace zlayer::agent::daemon
