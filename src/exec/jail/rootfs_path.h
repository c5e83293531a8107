// Paths inside an image's rootfs, resolved the way the jailed process will later see them — but before
// pivot_root, while the host's tree is still reachable. The kernel would follow an absolute symlink
// (`srv -> /etc`) from the *host's* root, so every component is opened with O_NOFOLLOW relative to the fd of
// its parent and symlinks are expanded here, textually, against the rootfs: absolute targets restart at the
// rootfs, a ".." that would climb above it is refused. No path string is ever handed to the kernel whole, so a
// concurrent rename cannot redirect the walk either; magic links (/proc/self/root) are read as text too.
#pragma once

#include <string>
#include <vector>

#include "fd.h"

namespace droot::exec {

enum class Create { Nothing, Directory, File };

struct ResolvedPath {
  UniqueFd fd;        // O_PATH, O_CLOEXEC
  std::string path;   // where it landed, as a path inside the rootfs (for messages)
  bool is_dir = false;
  std::vector<std::string> created;  // what Create:: made, parents first, as "etc/hosts" (no leading /)

  // Adds `created` to a list kept over several resolutions (run's mount points, run_mountpoints.h).
  void add_created_to(std::vector<std::string>& list) const { list.insert(list.end(), created.begin(), created.end()); }
};

// Resolves `path` (absolute, inside the rootfs open at `root`). With Create::Directory/File a missing final
// component is created as that (mode 0755 / 0644, owned by the caller) and missing parents as directories —
// also when the missing part is the target of a dangling symlink. Throws Error naming `path` and, for an
// escape, the symlink that tried it.
ResolvedPath resolve_in_rootfs(int root, const std::string& path, Create create = Create::Nothing);

// Reads a small regular file of the rootfs into `out` (symlinks resolved as above). Returns false when it does
// not exist; throws on anything else (a directory, too large, unreadable).
bool read_rootfs_file(int root, const std::string& path, std::string& out, size_t max_size = 4 << 20);

}  // namespace droot::exec
