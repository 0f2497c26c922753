#include "agent/logs/log_record.h"

#include <nlohmann/json.hpp>

#include "common/rfc3339.h"

namespace zlayer::agent::logs {

std::string_view StreamName(Stream stream) {
  return stream == Stream::kStdout ? "stdout" : "stderr";
}

std::optional<Stream> ParseStream(std::string_view name) {
  if (name == "stdout") return Stream::kStdout;
  if (name == "stderr") return Stream::kStderr;
  return std::nullopt;
}

std::string EncodeRecord(const LogRecord& record) {
  // Written by hand around nlohmann's string escaping, so the key order is
  // Docker's and no intermediate object is built per line.
  std::string out = "{\"log\":";
  out += nlohmann::json(record.text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += ",\"stream\":\"";
  out += StreamName(record.stream);
  out += "\",\"time\":\"";
  out += FormatRfc3339Nano(record.time);
  out += "\"}\n";
  return out;
}

std::optional<LogRecord> DecodeRecord(std::string_view line) {
  auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return std::nullopt;  // also true for a discarded parse
  auto log = json.find("log");
  auto stream = json.find("stream");
  auto time = json.find("time");
  if (log == json.end() || !log->is_string() || stream == json.end() || !stream->is_string() ||
      time == json.end() || !time->is_string()) {
    return std::nullopt;
  }
  auto parsed_stream = ParseStream(stream->get_ref<const std::string&>());
  auto parsed_time = ParseRfc3339(time->get_ref<const std::string&>());
  if (!parsed_stream || !parsed_time.ok()) return std::nullopt;
  return LogRecord{*parsed_stream, *parsed_time, log->get<std::string>()};
}

}  // namespace zlayer::agent::logs
