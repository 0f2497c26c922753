// Which uid, gid and supplementary groups a container's process runs as: containerd 1.6's
// rules (oci.WithUser, WithUserID, WithUsername, WithAdditionalGIDs), applied to the text
// of the image's /etc/passwd and /etc/group. Reading those two files out of the container's
// rootfs is the caller's job; everything here is pure.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/oci/image_config.h"
#include "agent/spec/model.h"
#include "common/status.h"

namespace zlayer::runtime {

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  // Supplementary groups, always starting with `gid` unless /etc/group already lists it
  // among them (containerd prepends the primary gid when it is missing).
  std::vector<uint32_t> additional_gids = {0};

  bool operator==(const ResolvedUser&) const = default;
};

// The user string a replica runs as: the service's `user`, else the image's USER, else ""
// (root).
std::string EffectiveUser(const spec::Service& service, const oci::ImageConfig& image);

// Resolves `user` against the image's files. `passwd` and `group` are the files' text; pass
// "" for a file the image does not have (containerd treats a missing file and a missing
// entry alike). A number is a uid or gid when it is 0..2147483647, otherwise it is a name.
//
//   ""            uid 0, gid 0; supplementary groups of the user named "root"
//   "uid"         gid from the passwd entry with that uid, or 0 when there is none
//   "name"        uid and gid from the passwd entry with that name
//   "uid:gid"     used as is, no lookup
//   "name:group", "uid:group", "name:gid"
//                 each name looked up (user in passwd, group in group), numbers as is
//
// Supplementary groups: the gids of /etc/group entries whose member list names the user
// (the user's name is found from the resolved uid in passwd; no entry, no groups), except
// the group named after the user; then the primary gid is prepended when missing.
//
// Errors: kInvalidArgument for a string with more than one ':' or an empty part;
// kNotFound naming the user or group when a name has no entry.
Result<ResolvedUser> ResolveUser(std::string_view user, std::string_view passwd,
                                 std::string_view group);

}  // namespace zlayer::runtime
