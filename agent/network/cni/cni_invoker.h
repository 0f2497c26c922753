// Runs a CNI network configuration list against one container's network
// namespace, exactly as the CNI spec 1.0.0 says a runtime does (section 3):
//
//   ADD    plugins in order; each gets the previous plugin's result as
//          "prevResult" (the first none); the last one's result is the list's.
//   CHECK  plugins in order, each with the list's ADD result as "prevResult".
//   DEL    plugins in reverse order, each with the list's ADD result as
//          "prevResult" when the caller has it (a plugin then cleans up what it
//          can without it).
//
// Each plugin is the executable `<plugin dir>/<type>`, run through a
// ProcessRunner with the environment CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS,
// CNI_IFNAME, CNI_PATH (the plugin dirs, for delegated plugins such as IPAM),
// PATH (plugins run iptables) and CNI_ARGS when an address is requested, and the derived
// configuration on stdin.
//
// Errors name the plugin, the command and the container:
//   "cni bridge ADD for web-0: <msg> (code N)"   the plugin's error object
//   "cni bridge ADD for web-0: exit status 1: <stderr>"  no error object
//   "cni bridge ADD for web-0: run /usr/lib/cni/bridge: ..."  not run at all
// An ADD that fails part-way leaves what the earlier plugins set up: the
// caller runs DEL (which tolerates missing pieces), as runtimes do.
//
// Thread safety: use on the ProcessRunner's event loop; callbacks run there,
// exactly once, after the call returns (except for a list whose plugin "type"
// is empty or a path: that error is reported before the call returns).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/network/cni/cni_config.h"
#include "agent/network/cni/cni_result.h"
#include "common/process_runner.h"
#include "common/status.h"

namespace zlayer::agent::network::cni {

// Where a list is attached: CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME.
struct Attachment {
  std::string container_id;
  std::string netns;  // path of the network namespace
  std::string ifname = "eth0";
  // Asks IPAM for this address: CNI_ARGS "IgnoreUnknown=1;IP=<it>", the way
  // host-local takes a requested address. "" lets IPAM choose.
  std::string requested_address;
};

struct InvokerOptions {
  // Searched in order for each plugin's executable; also CNI_PATH.
  std::vector<std::string> plugin_dirs = {"/usr/lib/cni"};
  // The PATH plugins get (bridge with ipMasq and firewall run iptables).
  std::string path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  // Per plugin call.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
};

enum class Command { kAdd, kCheck, kDel };
// "ADD", "CHECK", "DEL".
const char* CommandName(Command command);

class Invoker {
 public:
  // `runner` is not owned and must outlive the invoker; the invoker must
  // outlive the calls it has running.
  Invoker(ProcessRunner& runner, InvokerOptions options = {});

  using AddCallback = std::function<void(Result<CniResult>)>;
  using StatusCallback = std::function<void(Status)>;

  // Attaches; the result is the last plugin's, to be kept for Check and Del.
  void Add(const NetworkList& list, const Attachment& attachment, AddCallback done);
  // Verifies the attachment against `add_result` (the raw ADD result).
  void Check(const NetworkList& list, const Attachment& attachment,
             const nlohmann::json& add_result, StatusCallback done);
  // Detaches; `add_result` may be null when it was lost. Every plugin is run
  // even when one fails; the first error is reported.
  void Del(const NetworkList& list, const Attachment& attachment, const nlohmann::json& add_result,
           StatusCallback done);

  // The request for one plugin call (exposed for tests).
  ProcessRequest BuildRequest(const std::string& program, Command command,
                              const Attachment& attachment, const nlohmann::json& input) const;

 private:
  struct Call;
  // Runs plugin `type` with `input`, trying each plugin dir in turn.
  void RunPlugin(Command command, const Attachment& attachment, const std::string& type,
                 nlohmann::json input, std::function<void(Result<ProcessResult>)> done,
                 size_t dir_index = 0);
  void Step(std::shared_ptr<Call> call);

  ProcessRunner& runner_;
  InvokerOptions options_;
  std::string cni_path_;
};

}  // namespace zlayer::agent::network::cni
