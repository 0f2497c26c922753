#include "agent/runtime/user.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>

namespace zlayer::runtime {
namespace {

// One line of /etc/passwd or /etc/group split on ':'.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    size_t colon = line.find(':', start);
    fields.push_back(line.substr(start, colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  return fields;
}

std::string_view Trim(std::string_view text) {
  const char* space = " \t\r\n";
  size_t begin = text.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

// Calls `visit(fields)` for each non-empty line until it returns true.
template <typename Visit>
void ForEachEntry(std::string_view file, Visit visit) {
  while (!file.empty()) {
    size_t newline = file.find('\n');
    std::string_view line = Trim(file.substr(0, newline));
    file = newline == std::string_view::npos ? std::string_view() : file.substr(newline + 1);
    if (line.empty()) continue;
    if (visit(Fields(line))) return;
  }
}

// An id as containerd accepts it: decimal, 0..MaxInt32. Anything else is a name.
std::optional<uint32_t> ParseId(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < 0 || value > std::numeric_limits<int32_t>::max()) return std::nullopt;
  return static_cast<uint32_t>(value);
}

// Like Go's strconv.Atoi with errors ignored, as runc's passwd parser does.
uint32_t IdField(const std::vector<std::string_view>& fields, size_t index) {
  if (index >= fields.size()) return 0;
  return ParseId(fields[index]).value_or(0);
}

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

template <typename Match>
std::optional<PasswdEntry> FindPasswd(std::string_view passwd, Match match) {
  std::optional<PasswdEntry> found;
  ForEachEntry(passwd, [&](const std::vector<std::string_view>& fields) {
    PasswdEntry entry{std::string(fields[0]), IdField(fields, 2), IdField(fields, 3)};
    if (!match(entry)) return false;
    found = std::move(entry);
    return true;
  });
  return found;
}

std::optional<uint32_t> FindGroupGid(std::string_view group, std::string_view name) {
  std::optional<uint32_t> gid;
  ForEachEntry(group, [&](const std::vector<std::string_view>& fields) {
    if (fields[0] != name) return false;
    gid = IdField(fields, 2);
    return true;
  });
  return gid;
}

std::vector<uint32_t> SupplementaryGroups(std::string_view group, std::string_view username) {
  std::vector<uint32_t> gids;
  ForEachEntry(group, [&](const std::vector<std::string_view>& fields) {
    if (fields[0] == username || fields.size() < 4) return false;
    std::string_view members = fields[3];
    while (!members.empty()) {
      size_t comma = members.find(',');
      if (members.substr(0, comma) == username) {
        gids.push_back(IdField(fields, 2));
        break;
      }
      members = comma == std::string_view::npos ? std::string_view() : members.substr(comma + 1);
    }
    return false;
  });
  return gids;
}

Status NoSuchUser(std::string_view user, std::string_view name) {
  return NotFoundError(
      fmt::format("user \"{}\": no user \"{}\" in the image's /etc/passwd", user, name));
}

Status NoSuchGroup(std::string_view user, std::string_view name) {
  return NotFoundError(
      fmt::format("user \"{}\": no group \"{}\" in the image's /etc/group", user, name));
}

}  // namespace

std::string EffectiveUser(const spec::Service& service, const oci::ImageConfig& image) {
  return service.user.value_or(image.user);
}

Result<ResolvedUser> ResolveUser(std::string_view user, std::string_view passwd,
                                 std::string_view group) {
  ResolvedUser resolved;
  std::string username;  // whose supplementary groups apply
  if (user.empty()) {
    username = "root";
  } else {
    std::vector<std::string_view> parts = Fields(user);
    if (parts.size() > 2 || std::any_of(parts.begin(), parts.end(),
                                        [](std::string_view part) { return part.empty(); })) {
      return InvalidArgumentError(
          fmt::format("user \"{}\": expected uid, name, uid:gid or name:group", user));
    }
    std::optional<uint32_t> uid = ParseId(parts[0]);
    if (parts.size() == 1 && uid) {
      resolved.uid = *uid;
      auto entry = FindPasswd(passwd, [&](const PasswdEntry& e) { return e.uid == *uid; });
      resolved.gid = entry ? entry->gid : 0;
    } else if (uid) {
      resolved.uid = *uid;
    } else {
      auto entry = FindPasswd(passwd, [&](const PasswdEntry& e) { return e.name == parts[0]; });
      if (!entry) return NoSuchUser(user, parts[0]);
      resolved.uid = entry->uid;
      resolved.gid = entry->gid;
    }
    if (parts.size() == 2) {
      if (std::optional<uint32_t> gid = ParseId(parts[1])) {
        resolved.gid = *gid;
      } else if (std::optional<uint32_t> found = FindGroupGid(group, parts[1])) {
        resolved.gid = *found;
      } else {
        return NoSuchGroup(user, parts[1]);
      }
    }
    auto entry = FindPasswd(passwd, [&](const PasswdEntry& e) { return e.uid == resolved.uid; });
    if (entry) username = entry->name;
  }

  resolved.additional_gids.clear();
  if (!username.empty()) resolved.additional_gids = SupplementaryGroups(group, username);
  if (std::find(resolved.additional_gids.begin(), resolved.additional_gids.end(), resolved.gid) ==
      resolved.additional_gids.end()) {
    resolved.additional_gids.insert(resolved.additional_gids.begin(), resolved.gid);
  }
  return resolved;
}

}  // namespace zlayer::runtime
