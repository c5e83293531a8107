#include "manifest_diff.h"

#include <cstdio>

namespace droot::exec {
namespace {

std::string octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

}  // namespace

void diff_entry(const ManifestEntry& seen, const ManifestEntry& want, std::vector<Difference>& out) {
  using Kind = Difference::Kind;
  if (seen.type != want.type) {
    out.push_back({Kind::type, want.path, "is a " + seen.type + ", manifest says " + want.type});
    return;
  }
  if (want.type == "file" && (seen.size != want.size || seen.sha256 != want.sha256))
    out.push_back({Kind::modified, want.path,
                   "content differs (size " + std::to_string(seen.size) + ", sha256 " + seen.sha256 + "; manifest: size " +
                       std::to_string(want.size) + ", sha256 " + want.sha256 + ")"});
  if (want.type == "link" && seen.link != want.link)
    out.push_back({Kind::link, want.path, "points to '" + seen.link + "', manifest says '" + want.link + "'"});
  if (want.type != "link" && (seen.mode & 07777) != (want.mode & 07777))
    out.push_back({Kind::mode, want.path, "mode " + octal(seen.mode) + ", manifest says " + octal(want.mode)});
  if (seen.uid != want.uid || seen.gid != want.gid)
    out.push_back({Kind::owner, want.path,
                   "owner " + std::to_string(seen.uid) + ":" + std::to_string(seen.gid) + ", manifest says " +
                       std::to_string(want.uid) + ":" + std::to_string(want.gid)});
}

std::string kind_name(Difference::Kind kind) {
  switch (kind) {
    case Difference::Kind::modified: return "modified";
    case Difference::Kind::missing: return "missing";
    case Difference::Kind::extra: return "extra";
    case Difference::Kind::type: return "type";
    case Difference::Kind::mode: return "mode";
    case Difference::Kind::owner: return "owner";
    case Difference::Kind::link: return "link";
  }
  return "?";
}

std::vector<Difference> diff_against_manifest(const Manifest& observed, const Manifest& manifest) {
  std::vector<Difference> out;
  // Both maps are sorted by path: one merge pass.
  auto seen = observed.begin();
  auto want = manifest.begin();
  while (seen != observed.end() || want != manifest.end()) {
    if (want == manifest.end() || (seen != observed.end() && seen->first < want->first)) {
      out.push_back({Difference::Kind::extra, seen->first, "not in the manifest"});
      ++seen;
    } else if (seen == observed.end() || want->first < seen->first) {
      out.push_back({Difference::Kind::missing, want->first, "in the manifest but not present"});
      ++want;
    } else {
      diff_entry(seen->second, want->second, out);
      ++seen;
      ++want;
    }
  }
  return out;
}

}  // namespace droot::exec
