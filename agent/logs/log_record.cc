#include "agent/logs/log_record.h"

#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/rfc3339.h"

namespace zlayer::agent::logs {
namespace {

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

// True when one of the eight bytes of `word` is '"', '\\', below 0x20 or
// above 0x7F: bytes AppendJsonEscaped cannot copy blindly. (The classic
// "has a zero byte" test, applied to word ^ c for each special byte c, and to
// word - 0x20 for the control characters.)
bool NeedsAttention(uint64_t word) {
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  return ((word | has_zero(word ^ (kOnes * '"')) | has_zero(word ^ (kOnes * '\\')) |
           ((word - kOnes * 0x20) & ~word)) &
          kHighs) != 0;
}

bool Plain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

bool Continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the valid UTF-8 sequence (RFC 3629, no surrogates, no overlong
// forms) at the start of `s`, or 0 when it is not one.
size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  unsigned char c = s[0];
  if (c >= 0xC2 && c <= 0xDF) return n >= 2 && Continuation(s[1]) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || !Continuation(s[1]) || !Continuation(s[2])) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0;  // overlong
    if (c == 0xED && s[1] > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || !Continuation(s[1]) || !Continuation(s[2]) || !Continuation(s[3])) return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0;  // overlong
    if (c == 0xF4 && s[1] > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

void AppendEscapedByte(unsigned char c, std::string& out) {
  switch (c) {
    case '"':
      out.append("\\\"");
      return;
    case '\\':
      out.append("\\\\");
      return;
    case '\b':
      out.append("\\b");
      return;
    case '\f':
      out.append("\\f");
      return;
    case '\n':
      out.append("\\n");
      return;
    case '\r':
      out.append("\\r");
      return;
    case '\t':
      out.append("\\t");
      return;
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(escaped, sizeof escaped);
    }
  }
}

}  // namespace

void AppendJsonEscaped(std::string_view text, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  size_t run = 0;  // start of the bytes not yet copied
  while (i < n) {
    for (uint64_t word; i + 8 <= n; i += 8) {
      std::memcpy(&word, p + i, 8);
      if (NeedsAttention(word)) break;
    }
    while (i < n && Plain(p[i])) ++i;
    if (i == n) break;
    out.append(text.data() + run, i - run);
    if (p[i] < 0x80) {
      AppendEscapedByte(p[i], out);
      ++i;
    } else if (size_t len = Utf8SequenceLength(p + i, n - i); len > 0) {
      out.append(text.data() + i, len);
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD
      ++i;
    }
    run = i;
  }
  out.append(text.data() + run, n - run);
}

void RecordEncoder::Prepare(std::chrono::system_clock::time_point time) {
  time_ = time;
  std::string time_text = FormatRfc3339Nano(time);
  for (Stream stream : {Stream::kStdout, Stream::kStderr}) {
    for (bool ended : {false, true}) {
      std::string& suffix = suffix_[static_cast<int>(stream)][ended];
      suffix.assign(ended ? "\\n" : "");
      suffix.append("\",\"stream\":\"");
      suffix.append(StreamName(stream));
      suffix.append("\",\"time\":\"");
      suffix.append(time_text);
      suffix.append("\"}\n");
    }
  }
}

void RecordEncoder::Append(const RecordView& record, std::string& out) {
  if (record.time != time_) Prepare(record.time);
  std::string_view text = record.text;
  bool ended = !text.empty() && text.back() == '\n';
  if (ended) text.remove_suffix(1);
  out.append("{\"log\":\"");
  AppendJsonEscaped(text, out);
  out.append(suffix_[static_cast<int>(record.stream)][ended]);
}

std::string_view StreamName(Stream stream) {
  return stream == Stream::kStdout ? "stdout" : "stderr";
}

std::optional<Stream> ParseStream(std::string_view name) {
  if (name == "stdout") return Stream::kStdout;
  if (name == "stderr") return Stream::kStderr;
  return std::nullopt;
}

std::string EncodeRecord(const LogRecord& record) {
  std::string out;
  RecordEncoder().Append(RecordView{record.stream, record.time, record.text}, out);
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
