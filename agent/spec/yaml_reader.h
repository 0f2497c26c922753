// Internal to the spec library: typed reading of a yaml-cpp tree in which every mismatch
// becomes a Problem with line:column and field path instead of an exception, so that one
// pass finds every problem of a spec.
//
// Every Read* function takes the value to read as a pointer and returns nullopt, without a
// problem, for nullptr (the key was absent), so that optional fields read in one line.
// A present value that does not fit is reported and also gives nullopt.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/spec/problem.h"

namespace zlayer::spec::internal {

// A value in the document: its node, where to point at it, and its field path.
struct Value {
  YAML::Node node;
  YAML::Mark mark;      // of the value; of its key when the value is empty, since yaml-cpp
                        // marks an empty value at the start of the next line
  YAML::Mark key_mark;  // of the key (or list item) that holds the value
  std::string path;     // "services.web.endpoints[0].port"
};

// A mapping's recognised keys, after every key was checked (see Reader::Map).
struct Fields {
  std::string path;
  YAML::Mark mark;  // of the key that holds the mapping, where "required" problems point
  std::map<std::string, Value, std::less<>> values;

  const Value* Get(std::string_view key) const;
};

// "services" + "web" -> "services.web"; keys that are not [A-Za-z0-9_-]+ are quoted:
// labels["com.example.team"].
std::string JoinPath(std::string_view path, std::string_view key);

// How a node looks, for "got ..." in messages: "\"htp\"", "a mapping", "a list",
// "an empty value".
std::string Describe(const YAML::Node& node);

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  // Records a problem. Marks are yaml-cpp's (0-based); problems hold 1-based positions.
  // After kMaxProblems problems further problems are dropped.
  void Report(const YAML::Mark& mark, std::string path, std::string message);
  void Report(const Value& at, std::string message) {
    Report(at.mark, at.path, std::move(message));
  }
  // "<fields.path>.<key>: required" at the mapping's key, `hint` appended in parentheses.
  void ReportMissing(const Fields& fields, std::string_view key, std::string_view hint = {});

  // The problems so far in document order (line, then column).
  std::vector<Problem> TakeProblems();
  bool HasProblems() const { return !problems_.empty(); }

  // A mapping whose keys are checked: a duplicate key, a key in `unsupported` ("recognised,
  // not supported on this node yet") and any key in neither list are reported. The result
  // holds the keys of `known` that are present.
  std::optional<Fields> Map(const Value* value, std::initializer_list<std::string_view> known,
                            std::initializer_list<std::string_view> unsupported = {});
  // A mapping with free keys (env, labels, services): each key a non-empty string, no
  // duplicates. Pairs of (key, value), the key's Value holding the key text as node.
  std::optional<std::vector<std::pair<std::string, Value>>> Entries(const Value* value);
  // A list; items get paths "<path>[i]".
  std::optional<std::vector<Value>> List(const Value* value);

  // Any scalar, quoted or not: `8080` read as a string is "8080".
  std::optional<std::string> String(const Value* value);
  // A string for which `valid` holds; otherwise "<expected>, got \"...\"" is reported.
  std::optional<std::string> String(const Value* value, bool (*valid)(std::string_view),
                                    std::string_view expected);
  std::optional<std::vector<std::string>> StringList(const Value* value);
  std::optional<std::map<std::string, std::string>> StringMap(const Value* value);
  // Plain (unquoted) decimal integers in [min, max].
  std::optional<int64_t> Integer(const Value* value, int64_t min, int64_t max);
  // A plain decimal number > 0.
  std::optional<double> PositiveNumber(const Value* value);
  // true or false (also True/TRUE/False/FALSE), unquoted.
  std::optional<bool> Bool(const Value* value);
  // A duration as ParseDuration reads it; zero only when `allow_zero`.
  std::optional<std::chrono::nanoseconds> Duration(const Value* value, bool allow_zero);
  // A size as ParseSize reads it, > 0.
  std::optional<uint64_t> Size(const Value* value);

  // One of `accepted`, spelled as Name(E) spells it. A value in `unsupported` is reported as
  // recognised, not supported on this node yet.
  template <typename E>
  std::optional<E> Enum(const Value* value, std::initializer_list<E> accepted,
                        std::initializer_list<std::string_view> unsupported = {});

  static constexpr size_t kMaxProblems = 500;

 private:
  // The scalar's text, or nullopt after reporting "expected <what>, got ...".
  std::optional<std::string> Scalar(const Value& value, std::string_view what);
  // Scalar() for numbers: a quoted value is a string and reported as such.
  std::optional<std::string> UnquotedScalar(const Value& value, std::string_view what);
  std::string file_;
  std::vector<Problem> problems_;
  bool stopped_ = false;
};

template <typename E>
std::optional<E> Reader::Enum(const Value* value, std::initializer_list<E> accepted,
                              std::initializer_list<std::string_view> unsupported) {
  if (value == nullptr) return std::nullopt;
  std::string expected = "expected one of ";
  for (const E& e : accepted) {
    if (&e != accepted.begin()) expected += ", ";
    expected += Name(e);
  }
  std::optional<std::string> text = Scalar(*value, expected);
  if (!text) return std::nullopt;
  for (const E& e : accepted) {
    if (Name(e) == *text) return e;
  }
  for (std::string_view name : unsupported) {
    if (name == *text) {
      Report(*value, "\"" + *text + "\" is recognised, not supported on this node yet");
      return std::nullopt;
    }
  }
  Report(*value, expected + ", got " + Describe(value->node));
  return std::nullopt;
}

}  // namespace zlayer::spec::internal
