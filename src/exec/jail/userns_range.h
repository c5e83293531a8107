// `run --userns`: which host uids and gids the jail's 0…COUNT-1 are. Plain data and arithmetic only — the
// files that record the choice are userns_registry.h's, the namespace itself user_namespace.h's.
//
//   --userns=auto          a range of its own for each DEST (or ROOT), chosen once and recorded
//   --userns=BASE[:COUNT]  exactly that range (COUNT 65536 by default: every id an image normally uses)
//   --userns=off           none: the jail's root is the host's root, limited by capabilities and seccomp
//   DROOT_USERNS=…         the same values, for when the flag is not given (a host's default: a drop-in
//                          `Environment=DROOT_USERNS=auto` in droot@.service)
//
// Where auto looks: in the /etc/subuid and /etc/subgid ranges of the user "droot" when both files give it one
// (an operator's way to hand droot a part of the id space, as podman's "containers" user is), otherwise in
// [2^31, 2^32 - 2^16): above every range shadow-utils hands out by default (useradd's SUB_UID_MIN 100000 …
// SUB_UID_MAX 600100000) and above systemd-nspawn's --private-users=pick (0x80000 … 0x6FFFFFFF). It never
// takes a slot that overlaps a range another DEST holds or that /etc/subuid or /etc/subgid gives anyone else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace droot::exec {

inline constexpr uint64_t kUsernsDefaultCount = 65536;
// The first id past the end of the id space: uid 4294967295 is (uid_t)-1, which no mapping may contain.
inline constexpr uint64_t kIdSpaceEnd = 4294967295ull;
inline constexpr uint64_t kAutoPoolStart = 2147483648ull;  // 2^31
inline constexpr uint64_t kAutoPoolEnd = kIdSpaceEnd - (kIdSpaceEnd % kUsernsDefaultCount);

struct IdRange {
  uint64_t base = 0;
  uint64_t count = 0;
  uint64_t end() const { return base + count; }
  bool overlaps(const IdRange& o) const { return base < o.end() && o.base < end(); }
  bool operator==(const IdRange&) const = default;
};

std::string range_text(const IdRange& r);  // "2147483648:65536"

enum class UsernsMode { Off, Auto, Explicit };

struct UsernsRequest {
  UsernsMode mode = UsernsMode::Off;
  IdRange range;  // Explicit
};

// "auto" (also the bare flag), "off"/"none", "BASE[:COUNT]". `flag` names where the value came from
// ("--userns", "DROOT_USERNS") in errors. Refused: host id 0 in the range (the jail's root would be the
// host's), COUNT 0, a range that reaches past 4294967294.
UsernsRequest parse_userns(const std::string& value, const std::string& flag);

// /etc/subuid, /etc/subgid: "NAME:START:COUNT" lines (shadow-utils' subid(5)); malformed lines are skipped.
struct SubidEntry {
  std::string owner;
  IdRange range;
};
std::vector<SubidEntry> parse_subid(const std::string& text);

inline constexpr const char* kSubidOwner = "droot";

// The first COUNT-sized, COUNT-aligned slot for auto: inside the ranges `pool` (the subid ranges of
// kSubidOwner, in both files) or, when `pool` is empty, the default pool; overlapping none of `taken`.
// nullopt when everything is taken.
std::optional<IdRange> pick_free_range(const std::vector<IdRange>& pool, const std::vector<IdRange>& taken,
                                       uint64_t count = kUsernsDefaultCount);

// The ranges a subid file's owner `owner` holds, and the ranges everyone else holds.
std::vector<IdRange> subid_ranges_of(const std::vector<SubidEntry>& entries, const std::string& owner);
std::vector<IdRange> subid_ranges_not_of(const std::vector<SubidEntry>& entries, const std::string& owner);
// Ranges present in both lists (a uid slot is usable for auto only where the gid slot is too).
std::vector<IdRange> intersect(const std::vector<IdRange>& a, const std::vector<IdRange>& b);

}  // namespace droot::exec
