#include "agent/network/cni/cni_invoker.h"

#include <fmt/core.h>

#include <optional>

namespace zlayer::agent::network::cni {

using nlohmann::json;

namespace {

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  constexpr size_t kMax = 512;
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

}  // namespace

const char* CommandName(Command command) {
  switch (command) {
    case Command::kAdd:
      return "ADD";
    case Command::kCheck:
      return "CHECK";
    case Command::kDel:
      return "DEL";
  }
  return "?";
}

struct Invoker::Call {
  Command command;
  NetworkList list;
  Attachment attachment;
  json add_result;  // CHECK, DEL: the list's ADD result (or null)
  size_t step = 0;
  std::optional<CniResult> last;  // ADD: the latest plugin's result
  Status first_error;             // DEL: kept while the other plugins still run
  AddCallback add_done;
  StatusCallback status_done;
};

Invoker::Invoker(ProcessRunner& runner, InvokerOptions options)
    : runner_(runner), options_(std::move(options)) {
  for (const std::string& dir : options_.plugin_dirs) {
    if (!cni_path_.empty()) cni_path_ += ':';
    cni_path_ += dir;
  }
}

ProcessRequest Invoker::BuildRequest(const std::string& program, Command command,
                                     const Attachment& attachment, const json& input) const {
  ProcessRequest request;
  request.program = program;
  request.env = {
      {"CNI_COMMAND", CommandName(command)},
      {"CNI_CONTAINERID", attachment.container_id},
      {"CNI_NETNS", attachment.netns},
      {"CNI_IFNAME", attachment.ifname},
      {"CNI_PATH", cni_path_},
      {"PATH", options_.path_env},
  };
  if (!attachment.requested_address.empty()) {
    request.env["CNI_ARGS"] = "IgnoreUnknown=1;IP=" + attachment.requested_address;
  }
  request.stdin_data = input.dump();
  request.timeout = options_.timeout;
  return request;
}

void Invoker::Add(const NetworkList& list, const Attachment& attachment, AddCallback done) {
  auto call = std::make_shared<Call>();
  call->command = Command::kAdd;
  call->list = list;
  call->attachment = attachment;
  call->add_done = std::move(done);
  Step(std::move(call));
}

void Invoker::Check(const NetworkList& list, const Attachment& attachment, const json& add_result,
                    StatusCallback done) {
  auto call = std::make_shared<Call>();
  call->command = Command::kCheck;
  call->list = list;
  call->attachment = attachment;
  call->add_result = add_result;
  call->status_done = std::move(done);
  Step(std::move(call));
}

void Invoker::Del(const NetworkList& list, const Attachment& attachment, const json& add_result,
                  StatusCallback done) {
  auto call = std::make_shared<Call>();
  call->command = Command::kDel;
  call->list = list;
  call->attachment = attachment;
  call->add_result = add_result;
  call->status_done = std::move(done);
  Step(std::move(call));
}

void Invoker::Step(std::shared_ptr<Call> call) {
  const size_t count = call->list.plugins.size();
  if (call->step == count) {
    if (call->command == Command::kAdd) {
      if (!call->last) {
        return call->add_done(InvalidArgumentError(
            fmt::format("cni {}: network list has no plugins", call->list.name)));
      }
      return call->add_done(std::move(*call->last));
    }
    return call->status_done(call->first_error);
  }
  const size_t index = call->command == Command::kDel ? count - 1 - call->step : call->step;
  const json& prev =
      call->command == Command::kAdd ? (call->last ? call->last->raw : json()) : call->add_result;
  json input = PluginInput(call->list, index, prev);
  std::string type = input.value("type", "");

  RunPlugin(call->command, call->attachment, type, std::move(input),
            [this, call, type](Result<ProcessResult> outcome) {
              const std::string context =
                  fmt::format("cni {} {} for {}", type, CommandName(call->command),
                              call->attachment.container_id);
              Status error;
              if (!outcome.ok()) {
                error = outcome.status().Wrap(context);
              } else if (outcome->exit_code != 0) {
                if (auto cni_error = ParseError(outcome->stdout_data)) {
                  error = ErrorStatus(type, CommandName(call->command),
                                      call->attachment.container_id, *cni_error);
                } else {
                  std::string output = Trim(outcome->stderr_data);
                  if (output.empty()) output = Trim(outcome->stdout_data);
                  error = InternalError(
                      fmt::format("{}: exit status {}: {}", context, outcome->exit_code, output));
                }
              } else if (call->command == Command::kAdd) {
                auto parsed = ParseResult(outcome->stdout_data);
                if (!parsed.ok()) {
                  error = parsed.status().Wrap(context);
                } else {
                  call->last = std::move(*parsed);
                }
              }

              if (!error.ok()) {
                if (call->command == Command::kAdd) return call->add_done(error);
                if (call->command == Command::kCheck) return call->status_done(error);
                if (call->first_error.ok()) call->first_error = error;  // DEL: go on with the rest
              }
              ++call->step;
              Step(call);
            });
}

void Invoker::RunPlugin(Command command, const Attachment& attachment, const std::string& type,
                        json input, std::function<void(Result<ProcessResult>)> done,
                        size_t dir_index) {
  if (type.empty() || type.find('/') != std::string::npos) {
    return done(InvalidArgumentError(fmt::format("plugin type \"{}\": not a plugin name", type)));
  }
  if (dir_index >= options_.plugin_dirs.size()) {
    return done(NotFoundError(fmt::format("plugin {}: not in {}", type, cni_path_)));
  }
  std::string program = options_.plugin_dirs[dir_index] + "/" + type;
  ProcessRequest request = BuildRequest(program, command, attachment, input);
  runner_.Run(std::move(request), [this, command, attachment, type, input = std::move(input),
                                   done = std::move(done),
                                   dir_index](Result<ProcessResult> outcome) mutable {
    const bool missing = !outcome.ok() && outcome.status().code() == StatusCode::kNotFound;
    if (missing && dir_index + 1 < options_.plugin_dirs.size()) {
      return RunPlugin(command, attachment, type, std::move(input), std::move(done), dir_index + 1);
    }
    done(std::move(outcome));
  });
}

}  // namespace zlayer::agent::network::cni
