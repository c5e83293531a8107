// What a service wrote over its release: the upper layer of the release's state (state_dir.h), read back as
// `droot-exec check --changes` lists it. overlayfs keeps, with redirect_dir, metacopy and index off
// (overlay_root.h), only three kinds of entry there: whole files and directories (new, or copied up when
// changed), whiteouts (a character device 0/0: the name was deleted) and opaque directories
// (trusted.overlay.opaque "y": the directory was removed and made again, hiding the release's content below).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace droot::exec {

struct StateChange {
  enum class Kind { added, modified, deleted, replaced };
  Kind kind = Kind::added;
  std::string path;  // "var/log/app.log": relative, no leading '/'
  std::string type;  // "file", "dir", "link", "char", "block", "fifo", "socket"; deleted: what the release has
  uint64_t size = 0;  // regular files: the size now
};

std::string change_name(StateChange::Kind kind);

struct StateChanges {
  std::vector<StateChange> changes;          // sorted by path
  std::vector<std::string> run_mountpoints;  // empty mount points run itself made (run_mountpoints.h), not counted
};

// Walks `upper_fd` (a directory, opened O_RDONLY) without following a symlink or entering another filesystem,
// and compares each entry with the same path in the release at `release_fd`: absent there → added; present →
// modified (copied up because it was written, or had its mode or owner changed; a directory is listed only in
// that last case, since overlayfs copies up every parent of a written file). `upper_path` names it in errors.
// Reading trusted.* xattrs needs CAP_SYS_ADMIN: without it an opaque directory shows as modified or added.
// `id_shift`: the host id of the jail's root when the state was written with --userns (state_dir.h): upper's
// owners are then host ids, compared with the release's after subtracting it.
StateChanges list_state_changes(int upper_fd, int release_fd, const std::string& upper_path, uint32_t id_shift = 0);

}  // namespace droot::exec
