#include "agent/spec/expansion.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "agent/spec/parser.h"

namespace zlayer::spec::internal {
namespace {

// What a value stands for once its aliases are expanded.
struct Extent {
  size_t bytes = 0;   // scalar text, keys included
  size_t values = 0;  // scalars, empty values, lists and mappings
};

// Thrown out of the YAML parser once a limit of the whole document was reported.
struct Stop {};

class Counter : public YAML::EventHandler {
 public:
  explicit Counter(Reader& reader) : reader_(reader) {}

  bool ok() const { return ok_; }

  void OnDocumentStart(const YAML::Mark& /*mark*/) override {
    // Anchor ids are numbered per document.
    anchors_.clear();
    stack_.clear();
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Leaf(mark, anchor, Extent{0, 1}, nullptr);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      // The parser knows the anchor, so it is still open: the alias is inside its value.
      Report(mark, ChildPath(),
             "this alias is inside the value it names, which would make that value endless");
      Halt();
    }
    Leaf(mark, YAML::NullAnchor, it->second, nullptr);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                const std::string& value) override {
    if (value.size() > kMaxValueBytes) {
      Report(mark, ChildPath(),
             fmt::format("a value of {} bytes; a value may have at most {} bytes (128 KiB)",
                         value.size(), kMaxValueBytes));
    }
    Leaf(mark, anchor, Extent{value.size(), 1}, &value);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    Open(mark, anchor, /*is_map=*/false);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    Open(mark, anchor, /*is_map=*/true);
  }
  void OnMapEnd() override { Close(); }

 private:
  // An open list or mapping.
  struct Frame {
    bool is_map = false;
    YAML::Mark mark;
    std::string path;
    YAML::anchor_t anchor = YAML::NullAnchor;
    Extent extent{0, 1};
    size_t items = 0;      // lists: items so far
    bool key_next = true;  // mappings: the next value is a key
    std::string key;       // mappings: the key of the value being read
  };

  void Report(const YAML::Mark& mark, std::string path, std::string message) {
    ok_ = false;
    reader_.Report(mark, std::move(path), std::move(message));
  }

  // The path of the value that starts now. A key is reported at its mapping's path.
  std::string ChildPath() const {
    if (stack_.empty()) return "";
    const Frame& top = stack_.back();
    if (!top.is_map) return fmt::format("{}[{}]", top.path, top.items);
    if (top.key_next) return top.path;
    return JoinPath(top.path, top.key);
  }

  // Counts `extent` into the document's totals; stops reading beyond a limit.
  void Add(const YAML::Mark& mark, const Extent& extent) {
    total_.bytes += extent.bytes;
    total_.values += extent.values;
    if (total_.bytes > kMaxExpandedBytes) {
      Report(mark, ChildPath(),
             fmt::format("with its aliases expanded, the spec has more than {} bytes (4 MiB) of "
                         "text, the most a spec may expand to; stopped reading",
                         kMaxExpandedBytes));
      Halt();
    }
    if (total_.values > kMaxExpandedValues) {
      Report(mark, ChildPath(),
             fmt::format("with its aliases expanded, the spec has more than {} values, the most "
                         "a spec may expand to; stopped reading",
                         kMaxExpandedValues));
      Halt();
    }
  }

  void Leaf(const YAML::Mark& mark, YAML::anchor_t anchor, const Extent& extent,
            const std::string* text) {
    Add(mark, extent);
    if (anchor != YAML::NullAnchor) anchors_[anchor] = extent;
    Completed(extent, text);
  }

  void Open(const YAML::Mark& mark, YAML::anchor_t anchor, bool is_map) {
    std::string path = ChildPath();
    Add(mark, Extent{0, 1});
    stack_.push_back(
        Frame{.is_map = is_map, .mark = mark, .path = std::move(path), .anchor = anchor});
  }

  void Close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    if (frame.anchor != YAML::NullAnchor) anchors_[frame.anchor] = frame.extent;
    Completed(frame.extent, nullptr);
  }

  // A value of the innermost open list or mapping has ended.
  void Completed(const Extent& extent, const std::string* text) {
    if (stack_.empty()) return;
    Frame& top = stack_.back();
    top.extent.bytes += extent.bytes;
    top.extent.values += extent.values;
    if (top.is_map) {
      if (top.key_next) top.key = text != nullptr ? *text : "?";
      top.key_next = !top.key_next;
      return;
    }
    if (++top.items == kMaxListItems + 1) {
      Report(top.mark, top.path,
             fmt::format("a list of more than {} items, the most a list may have", kMaxListItems));
    }
  }

  [[noreturn]] void Halt() { throw Stop{}; }

  Reader& reader_;
  bool ok_ = true;
  Extent total_;
  // The expanded size of each anchored value that has ended, by the parser's anchor id.
  std::map<YAML::anchor_t, Extent> anchors_;
  std::vector<Frame> stack_;
};

}  // namespace

bool CheckExpansion(std::string_view yaml_text, Reader& reader) {
  std::istringstream stream{std::string(yaml_text)};
  YAML::Parser parser(stream);
  Counter counter(reader);
  try {
    while (parser.HandleNextDocument(counter)) {
    }
  } catch (const Stop&) {
  }
  return counter.ok();
}

}  // namespace zlayer::spec::internal
