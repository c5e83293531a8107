#include "userns_range.h"

#include <algorithm>
#include <charconv>

#include "error.h"

namespace droot::exec {

namespace {

std::optional<uint64_t> number(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 20) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string range_text(const IdRange& r) { return std::to_string(r.base) + ":" + std::to_string(r.count); }

UsernsRequest parse_userns(const std::string& value, const std::string& flag) {
  if (value.empty() || value == "auto") return {UsernsMode::Auto, {}};
  if (value == "off" || value == "none") return {UsernsMode::Off, {}};
  const std::string what = flag + " '" + value + "'";
  size_t colon = value.find(':');
  auto base = number(std::string_view(value).substr(0, colon));
  std::optional<uint64_t> count = kUsernsDefaultCount;
  if (colon != std::string::npos) count = number(std::string_view(value).substr(colon + 1));
  if (!base || !count)
    throw Error(what + ": expected auto, off, or BASE[:COUNT] (host ids, e.g. 2147483648:65536)");
  if (*count == 0) throw Error(what + ": COUNT must be at least 1");
  if (*base == 0)
    throw Error(what + ": the range starts at host uid 0, so the jail's root would be the host's root — the very "
                "thing --userns is for; pick a BASE above the host's own users (or --userns=auto)");
  if (*base >= kIdSpaceEnd || *count > kIdSpaceEnd - *base)
    throw Error(what + ": the range ends past host id 4294967294 (ids are 32 bits and 4294967295 is -1, "
                "which no mapping may hold); BASE + COUNT must be at most 4294967295");
  return {UsernsMode::Explicit, {*base, *count}};
}

std::vector<SubidEntry> parse_subid(const std::string& text) {
  std::vector<SubidEntry> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t a = line.find(':');
    if (a == std::string_view::npos) continue;
    size_t b = line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    auto start = number(line.substr(a + 1, b - a - 1));
    auto count = number(line.substr(b + 1));
    if (!start || !count || *count == 0 || *start >= kIdSpaceEnd || *count > kIdSpaceEnd - *start) continue;
    out.push_back({std::string(line.substr(0, a)), {*start, *count}});
  }
  return out;
}

std::vector<IdRange> subid_ranges_of(const std::vector<SubidEntry>& entries, const std::string& owner) {
  std::vector<IdRange> out;
  for (const auto& e : entries)
    if (e.owner == owner) out.push_back(e.range);
  return out;
}

std::vector<IdRange> subid_ranges_not_of(const std::vector<SubidEntry>& entries, const std::string& owner) {
  std::vector<IdRange> out;
  for (const auto& e : entries)
    if (e.owner != owner) out.push_back(e.range);
  return out;
}

std::vector<IdRange> intersect(const std::vector<IdRange>& a, const std::vector<IdRange>& b) {
  std::vector<IdRange> out;
  for (const auto& x : a)
    for (const auto& y : b) {
      uint64_t lo = std::max(x.base, y.base), hi = std::min(x.end(), y.end());
      if (lo < hi) out.push_back({lo, hi - lo});
    }
  return out;
}

std::optional<IdRange> pick_free_range(const std::vector<IdRange>& pool, const std::vector<IdRange>& taken,
                                       uint64_t count) {
  std::vector<IdRange> where = pool;
  if (where.empty()) where.push_back({kAutoPoolStart, kAutoPoolEnd - kAutoPoolStart});
  std::sort(where.begin(), where.end(), [](const IdRange& x, const IdRange& y) { return x.base < y.base; });
  for (const auto& p : where) {
    // Aligned slots: two DESTs never get ranges that half-overlap, and a range reads well in `ls -ln`.
    uint64_t slot = (p.base + count - 1) / count * count;
    if (slot == 0) slot = count;  // never host id 0
    for (; slot + count <= p.end() && slot + count <= kIdSpaceEnd; slot += count) {
      IdRange candidate{slot, count};
      auto clash = std::find_if(taken.begin(), taken.end(), [&](const IdRange& t) { return t.overlaps(candidate); });
      if (clash == taken.end()) return candidate;
      // Skip past what is taken instead of stepping one slot at a time through a large taken range.
      uint64_t next = (clash->end() + count - 1) / count * count;
      if (next > slot + count) slot = next - count;
    }
  }
  return std::nullopt;
}

}  // namespace droot::exec
