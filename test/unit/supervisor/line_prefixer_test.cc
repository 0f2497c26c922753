#include "supervisor/line_prefixer.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using zlayer::init::LinePrefixer;

namespace {
struct Collected {
  std::vector<std::string> lines;
  LinePrefixer Make(std::string prefix, size_t max = 16 * 1024) {
    return LinePrefixer(prefix, [this](std::string_view l) { lines.emplace_back(l); }, max);
  }
};
}  // namespace

TEST_CASE("Every line of a child's output gets the child's name in front") {
  Collected c;
  auto p = c.Make("containerd");
  p.Feed("one\ntwo\n");
  CHECK(c.lines == std::vector<std::string>{"containerd: one\n", "containerd: two\n"});
}

TEST_CASE("A line split across reads is relayed once, whole") {
  Collected c;
  auto p = c.Make("x");
  p.Feed("hel");
  p.Feed("lo\nwor");
  CHECK(c.lines == std::vector<std::string>{"x: hello\n"});
  p.Flush();
  CHECK(c.lines.back() == "x: wor\n");
}

TEST_CASE("A line that never ends is cut at the limit instead of growing forever") {
  Collected c;
  auto p = c.Make("x", 4);
  p.Feed("abcdefghij");
  CHECK(c.lines == std::vector<std::string>{"x: abcd\n", "x: efgh\n"});
}

TEST_CASE("A line that already names the program is not prefixed twice") {
  Collected c;
  auto p = c.Make("zlayer-agent");
  p.Feed("zlayer-agent: info: ready\nplain\n");
  CHECK(c.lines ==
        std::vector<std::string>{"zlayer-agent: info: ready\n", "zlayer-agent: plain\n"});
}
