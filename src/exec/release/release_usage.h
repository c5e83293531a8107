// How much of DEST's disk a release holds on its own: the bytes of the objects no other release links
// (what removing it would free). Shared objects are counted once, in the store's total.
#pragma once

#include <cstdint>
#include <string>

namespace droot::exec {

struct ReleaseUsage {
  uint64_t own_bytes = 0;     // regular files whose inode no other release (and nothing else) links
  uint64_t shared_bytes = 0;  // regular files shared with another release
};

// Walks releases/<name> without following symlinks. An inode's links outside the release are st_nlink minus
// the links seen inside it; one of them is the store's own name (DEST/objects), if `stored`.
ReleaseUsage release_usage(int releases_fd, const std::string& name, const std::string& what);

}  // namespace droot::exec
