// Compares what a tree holds (or what an archive delivered) with its `.droot/manifest.mtree`: the one rule
// shared by deploy (refuse the release) and check (report drift).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mtree.h"

namespace droot::exec {

using Manifest = std::map<std::string, ManifestEntry>;

struct Difference {
  enum class Kind { modified, missing, extra, type, mode, owner, link };
  Kind kind;
  std::string path;
  std::string detail;  // e.g. "mode 0644, manifest says 0755"
};

std::string kind_name(Difference::Kind kind);  // "modified", "missing", ...

// Appends the differences of one path present on both sides.
void diff_entry(const ManifestEntry& seen, const ManifestEntry& want, std::vector<Difference>& out);

// Every difference, in path order. Symlink modes are not compared (Linux has no lchmod: they are always
// 0777 on disk). `observed` entries of regular files must carry size and sha256.
std::vector<Difference> diff_against_manifest(const Manifest& observed, const Manifest& manifest);

}  // namespace droot::exec
