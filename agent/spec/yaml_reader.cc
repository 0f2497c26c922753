#include "agent/spec/yaml_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <tuple>

#include "agent/spec/size.h"
#include "common/duration.h"

namespace zlayer::spec::internal {
namespace {

// yaml-cpp gives plain scalars the tag "?", quoted ones "!"; an explicit !!str also makes a
// string. A number or a bool written as a string is reported, not converted.
bool IsString(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

bool IsPlainKey(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string UnknownKeyMessage(std::string_view key, std::initializer_list<std::string_view> known) {
  if (key == "<<") return "unknown key (YAML merge keys are not supported; repeat the keys)";
  // A typo (a small edit distance) or a longer spelling of a key ("enviroment" for "env").
  std::string_view best;
  size_t best_distance = key.size() <= 3 ? 2 : 3;
  for (std::string_view candidate : known) {
    size_t distance = EditDistance(key, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  for (std::string_view candidate : known) {
    if (best.empty() && candidate.size() >= 3 && key.starts_with(candidate)) best = candidate;
  }
  if (!best.empty()) return fmt::format("unknown key; did you mean \"{}\"?", best);
  if (known.size() <= 8) {
    return fmt::format("unknown key (expected one of {})", fmt::join(known, ", "));
  }
  return "unknown key";
}

Value Item(const YAML::Node& node, const YAML::Mark& key_mark, std::string path) {
  YAML::Mark mark = node.IsNull() ? key_mark : node.Mark();
  return Value{node, mark, key_mark, std::move(path)};
}

}  // namespace

const Value* Fields::Get(std::string_view key) const {
  auto it = values.find(key);
  return it == values.end() ? nullptr : &it->second;
}

std::string JoinPath(std::string_view path, std::string_view key) {
  if (!IsPlainKey(key)) {
    std::string quoted;
    for (char c : key) {
      if (c == '"' || c == '\\') quoted += '\\';
      quoted += c;
    }
    return fmt::format("{}[\"{}\"]", path, quoted);
  }
  if (path.empty()) return std::string(key);
  return fmt::format("{}.{}", path, key);
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar: {
      std::string text = node.Scalar();
      if (text.size() > 60) text = text.substr(0, 57) + "...";
      return "\"" + text + "\"";
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "an empty value";
  }
  return "an empty value";
}

void Reader::Report(const YAML::Mark& mark, std::string path, std::string message) {
  if (stopped_) return;
  if (problems_.size() == kMaxProblems) {
    stopped_ = true;
    message = fmt::format("stopped after {} problems", kMaxProblems);
    path.clear();
  }
  // The null mark (-1) means yaml-cpp does not know; such a problem concerns the file.
  bool known = mark.line >= 0 && mark.column >= 0;
  problems_.push_back(Problem{file_, known ? mark.line + 1 : 0, known ? mark.column + 1 : 0,
                              std::move(path), std::move(message)});
}

void Reader::ReportMissing(const Fields& fields, std::string_view key, std::string_view hint) {
  std::string message = "required";
  if (!hint.empty()) message += fmt::format(" ({})", hint);
  Report(fields.mark, JoinPath(fields.path, key), std::move(message));
}

std::vector<Problem> Reader::TakeProblems() {
  std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return std::move(problems_);
}

std::optional<Fields> Reader::Map(const Value* value, std::initializer_list<std::string_view> known,
                                  std::initializer_list<std::string_view> unsupported) {
  if (value == nullptr) return std::nullopt;
  if (!value->node.IsMap()) {
    Report(*value, "expected a mapping, got " + Describe(value->node));
    return std::nullopt;
  }
  Fields fields{value->path, value->key_mark, {}};
  std::map<std::string, YAML::Mark, std::less<>> seen;
  // yaml-cpp's iterators hand out temporaries: copy the nodes (cheap handles) out of them.
  for (const auto& entry : value->node) {
    YAML::Node key = entry.first;
    if (!key.IsScalar()) {
      Report(key.Mark(), value->path, "expected a key, got " + Describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    std::string path = JoinPath(value->path, name);
    if (auto [previous, inserted] = seen.emplace(name, key.Mark()); !inserted) {
      Report(key.Mark(), path,
             fmt::format("duplicate key (first at line {})", previous->second.line + 1));
      continue;
    }
    if (std::find(unsupported.begin(), unsupported.end(), name) != unsupported.end()) {
      Report(key.Mark(), path, "recognised, not supported on this node yet");
      continue;
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      Report(key.Mark(), path, UnknownKeyMessage(name, known));
      continue;
    }
    fields.values.emplace(name, Item(entry.second, key.Mark(), path));
  }
  return fields;
}

std::optional<std::vector<std::pair<std::string, Value>>> Reader::Entries(const Value* value) {
  if (value == nullptr) return std::nullopt;
  if (!value->node.IsMap()) {
    Report(*value, "expected a mapping, got " + Describe(value->node));
    return std::nullopt;
  }
  std::vector<std::pair<std::string, Value>> entries;
  std::map<std::string, YAML::Mark, std::less<>> seen;
  // yaml-cpp's iterators hand out temporaries: copy the nodes (cheap handles) out of them.
  for (const auto& entry : value->node) {
    YAML::Node key = entry.first;
    if (!key.IsScalar() || key.Scalar().empty()) {
      Report(key.Mark(), value->path, "expected a non-empty key, got " + Describe(key));
      continue;
    }
    std::string path = JoinPath(value->path, key.Scalar());
    if (auto [previous, inserted] = seen.emplace(key.Scalar(), key.Mark()); !inserted) {
      Report(key.Mark(), path,
             fmt::format("duplicate key (first at line {})", previous->second.line + 1));
      continue;
    }
    entries.emplace_back(key.Scalar(), Item(entry.second, key.Mark(), path));
  }
  return entries;
}

std::optional<std::vector<Value>> Reader::List(const Value* value) {
  if (value == nullptr) return std::nullopt;
  if (!value->node.IsSequence()) {
    Report(*value, "expected a list, got " + Describe(value->node));
    return std::nullopt;
  }
  std::vector<Value> items;
  size_t index = 0;
  for (const YAML::Node& node : value->node) {
    YAML::Mark mark = node.IsNull() ? value->mark : node.Mark();
    items.push_back(Item(node, mark, fmt::format("{}[{}]", value->path, index++)));
  }
  return items;
}

std::optional<std::string> Reader::Scalar(const Value& value, std::string_view what) {
  if (value.node.IsScalar()) return value.node.Scalar();
  std::string message = fmt::format("{}, got {}", what, Describe(value.node));
  if (value.node.IsNull()) message += " (write \"\" for an empty string)";
  Report(value, std::move(message));
  return std::nullopt;
}

std::optional<std::string> Reader::UnquotedScalar(const Value& value, std::string_view what) {
  std::optional<std::string> text = Scalar(value, what);
  if (text && IsString(value.node)) {
    Report(value, fmt::format("{}, got the string {} (write it without quotes)", what,
                              Describe(value.node)));
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> Reader::String(const Value* value) {
  if (value == nullptr) return std::nullopt;
  return Scalar(*value, "expected a string");
}

std::optional<std::string> Reader::String(const Value* value, bool (*valid)(std::string_view),
                                          std::string_view expected) {
  std::optional<std::string> text = String(value);
  if (text && !valid(*text)) {
    Report(*value, fmt::format("{}, got {}", expected, Describe(value->node)));
    return std::nullopt;
  }
  return text;
}

std::optional<std::vector<std::string>> Reader::StringList(const Value* value) {
  if (value == nullptr) return std::nullopt;
  if (!value->node.IsSequence()) {
    Report(*value, "expected a list of strings, got " + Describe(value->node));
    return std::nullopt;
  }
  std::optional<std::vector<Value>> items = List(value);
  if (!items) return std::nullopt;
  std::vector<std::string> strings;
  bool ok = true;
  for (const Value& item : *items) {
    std::optional<std::string> text = String(&item);
    ok = ok && text.has_value();
    if (text) strings.push_back(std::move(*text));
  }
  if (!ok) return std::nullopt;
  return strings;
}

std::optional<std::map<std::string, std::string>> Reader::StringMap(const Value* value) {
  std::optional<std::vector<std::pair<std::string, Value>>> entries = Entries(value);
  if (!entries) return std::nullopt;
  std::map<std::string, std::string> strings;
  bool ok = true;
  for (const auto& [key, item] : *entries) {
    std::optional<std::string> text = String(&item);
    ok = ok && text.has_value();
    if (text) strings.emplace(key, std::move(*text));
  }
  if (!ok) return std::nullopt;
  return strings;
}

std::optional<int64_t> Reader::Integer(const Value* value, int64_t min, int64_t max) {
  if (value == nullptr) return std::nullopt;
  std::string expected = max == INT64_MAX
                             ? fmt::format("expected an integer ≥ {}", min)
                             : fmt::format("expected an integer between {} and {}", min, max);
  std::optional<std::string> text = UnquotedScalar(*value, expected);
  if (!text) return std::nullopt;
  std::string_view digits = *text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  int64_t number = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || number < min ||
      number > max) {
    Report(*value, fmt::format("{}, got {}", expected, Describe(value->node)));
    return std::nullopt;
  }
  return number;
}

std::optional<double> Reader::PositiveNumber(const Value* value) {
  if (value == nullptr) return std::nullopt;
  constexpr std::string_view kExpected = "expected a number > 0";
  std::optional<std::string> text = UnquotedScalar(*value, kExpected);
  if (!text) return std::nullopt;
  // from_chars also takes "inf" and "nan"; a spec means digits.
  bool plain = !text->empty() && text->find_first_not_of("0123456789.eE+-") == std::string::npos;
  double number = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), number);
  if (!plain || ec != std::errc() || end != text->data() + text->size() || !std::isfinite(number) ||
      number <= 0) {
    Report(*value, fmt::format("{}, got {}", kExpected, Describe(value->node)));
    return std::nullopt;
  }
  return number;
}

std::optional<bool> Reader::Bool(const Value* value) {
  if (value == nullptr) return std::nullopt;
  constexpr std::string_view kExpected = "expected true or false";
  std::optional<std::string> text = Scalar(*value, kExpected);
  if (!text) return std::nullopt;
  if (!IsString(value->node)) {
    if (*text == "true" || *text == "True" || *text == "TRUE") return true;
    if (*text == "false" || *text == "False" || *text == "FALSE") return false;
  }
  Report(*value, fmt::format("{}, got {}", kExpected, Describe(value->node)));
  return std::nullopt;
}

std::optional<std::chrono::nanoseconds> Reader::Duration(const Value* value, bool allow_zero) {
  if (value == nullptr) return std::nullopt;
  std::optional<std::string> text = Scalar(*value, "expected a duration such as 500ms, 5s, 2m");
  if (!text) return std::nullopt;
  Result<std::chrono::nanoseconds> duration = ParseDuration(*text);
  if (!duration.ok()) {
    Report(*value, duration.status().message());
    return std::nullopt;
  }
  if (!allow_zero && duration->count() == 0) {
    Report(*value, fmt::format("expected a duration > 0, got {}", Describe(value->node)));
    return std::nullopt;
  }
  return *duration;
}

std::optional<uint64_t> Reader::Size(const Value* value) {
  if (value == nullptr) return std::nullopt;
  std::optional<std::string> text = Scalar(*value, "expected a size such as 512Mi or 1G");
  if (!text) return std::nullopt;
  Result<uint64_t> size = ParseSize(*text);
  if (!size.ok()) {
    Report(*value, size.status().message());
    return std::nullopt;
  }
  if (*size == 0) {
    Report(*value, fmt::format("expected a size > 0, got {}", Describe(value->node)));
    return std::nullopt;
  }
  return *size;
}

}  // namespace zlayer::spec::internal
