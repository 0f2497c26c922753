#include "common/process_start.h"

#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace zlayer {

Result<uint64_t> ParseProcStatStartTicks(std::string_view stat) {
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos) {
    return InvalidArgumentError("/proc stat record without a command name in parentheses");
  }
  // After ") " come fields 3 (state), 4, ...; starttime is field 22, the 20th of them.
  std::string_view rest = stat.substr(close + 1);
  int field = 2;
  size_t pos = 0;
  while (pos < rest.size()) {
    while (pos < rest.size() && rest[pos] == ' ') ++pos;
    const size_t end = std::min(rest.find(' ', pos), rest.size());
    if (pos == end) break;
    if (++field == 22) {
      uint64_t ticks = 0;
      auto [ptr, ec] = std::from_chars(rest.data() + pos, rest.data() + end, ticks);
      if (ec != std::errc() || ptr != rest.data() + end) break;
      return ticks;
    }
    pos = end;
  }
  return InvalidArgumentError("/proc stat record without a start time (field 22)");
}

std::chrono::system_clock::time_point StartTimeFromTicks(
    uint64_t start_ticks, uint64_t ticks_per_second, std::chrono::nanoseconds since_boot,
    std::chrono::system_clock::time_point wall_now) {
  const auto started_after_boot = std::chrono::nanoseconds(
      static_cast<int64_t>(start_ticks / ticks_per_second) * 1'000'000'000 +
      static_cast<int64_t>(start_ticks % ticks_per_second) * 1'000'000'000 /
          static_cast<int64_t>(ticks_per_second));
  return wall_now - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                        since_boot - started_after_boot);
}

Result<std::chrono::system_clock::time_point> ProcessStartTime(pid_t pid) {
  const std::string path = fmt::format("/proc/{}/stat", pid);
  std::ifstream in(path);
  if (!in) return ErrnoError("open " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto ticks = ParseProcStatStartTicks(buffer.str());
  if (!ticks.ok()) return ticks.status().Wrap(path);
  timespec boot{};
  if (clock_gettime(CLOCK_BOOTTIME, &boot) != 0) return ErrnoError("clock_gettime(CLOCK_BOOTTIME)");
  const auto wall_now = std::chrono::system_clock::now();
  const long hz = sysconf(_SC_CLK_TCK);
  if (hz <= 0) return ErrnoError("sysconf(_SC_CLK_TCK)");
  const auto since_boot =
      std::chrono::seconds(boot.tv_sec) + std::chrono::nanoseconds(boot.tv_nsec);
  return StartTimeFromTicks(*ticks, static_cast<uint64_t>(hz), since_boot, wall_now);
}

}  // namespace zlayer
