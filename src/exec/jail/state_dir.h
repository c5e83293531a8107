// A release's state: what `run`'s jail writes over it. Releases are immutable — their regular files are hard
// links into DEST/objects/ shared with other releases, so a write into one would change them all (issue 16) —
// and the jail's root is an overlayfs whose lower layer is the release and whose upper layer lives here:
//
//   DEST/state/                     0700, root's
//   DEST/state/<release>/           0700, root's; flock()ed for the whole run that mounts it (overlay_root.h)
//   DEST/state/<release>/upper/     what the service wrote: new and changed files, whiteouts (char 0/0) for
//                                   deleted ones, trusted.overlay.opaque on re-created directories. Mode and
//                                   owner are the release root's: overlayfs shows the upper root as the jail's
//                                   "/" (a 0700 "/" would lock a non-root --user out of everything)
//   DEST/state/<release>/work/      overlayfs's scratch directory (must be on upper's filesystem), 0700;
//                                   flock()ed from before the overlay is mounted until its superblock is gone,
//                                   which is after the run (lock_state_mount, overlay_holder.h)
//   DEST/state/<release>/ids        "host", or "BASE:COUNT" when the jail ran with --userns: overlayfs cannot
//                                   take an idmapped upper layer, so what the service wrote is owned by the
//                                   host ids it had (its root: BASE). A run with other ids would find files
//                                   owned by strangers, so it is refused while upper holds anything the
//                                   service wrote; one with only run's own mount points changes hands (their
//                                   owners shifted). No file: "host" (states made before --userns).
//
// What a service writes persists across restarts of that release, as a container's writable layer does; a
// new release starts with an empty state. `droot-exec check --changes` lists upper (state_changes.h); prune
// removes DEST/state/<release> together with its release.
//
// Everything is made and opened beneath a DEST fd with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_XDEV) (beneath.h): a symlink or a mount planted in DEST/state is refused, never followed.
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>

#include "fd.h"
#include "userns_range.h"

namespace droot::exec {

inline constexpr const char* kStateDir = "state";

// "state/<release>", relative to DEST: the directory prune removes with the release.
std::string state_dir_name(const std::string& release);

// A release of a deploy directory: DEST's real path and the release's name under DEST/releases/.
struct ReleaseRef {
  std::string dest;
  std::string name;
};

// Whether the real path `rootfs` (no symlinks, as realpath(3) gives) is DEST/releases/<name> of a deploy
// directory: its parent is called `releases` and DEST has a `current` symlink or deploy's lock file. A rootfs
// given by hand as DEST/releases/<name> is then still run over its state, never written.
std::optional<ReleaseRef> release_of(const std::string& rootfs);

struct StateDirs {
  UniqueFd dir;    // state/<release>, O_RDONLY: the lock is taken on it
  UniqueFd upper;  // O_PATH
  UniqueFd work;   // O_PATH
};

// Makes what is missing of state/<release>/{upper,work} beneath `dest_fd` (`dest` names it in messages);
// a new upper gets `release_root`'s mode and owner, shifted into `ids` (--userns; nullopt: host ids). Refuses
// directories that are not root's (the euid's) or that group or others may write: whoever can write upper
// decides what the jail's root holds. Refuses a state written with other ids than `ids` (see "ids" above).
// `release_fd` (the release, O_PATH; -1: unknown) lets a state written with other ids change hands when the
// service wrote nothing into it (check --changes would list nothing): what run itself made there — its mount
// points and the directories copied up for them — is given to the new ids.
StateDirs make_state_dirs(int dest_fd, const std::string& dest, const std::string& release,
                          const struct stat& release_root, const std::optional<IdRange>& ids = std::nullopt,
                          int release_fd = -1);

// "host" or "BASE:COUNT", as the ids file holds it.
std::string state_ids_text(const std::optional<IdRange>& ids);
// The ids a state was written with, read from `state_release_fd` (state/<release>, any open mode): nullopt
// for host ids. `path` names it in errors; a damaged file is one.
std::optional<IdRange> read_state_ids(int state_release_fd, const std::string& path);


// flock(LOCK_EX | LOCK_NB) on state/<release>, held as long as `dirs.dir` is open in this process: overlayfs
// leaves it undefined what two mounts sharing one upper layer see (the kernel only warns), so a second run of
// the same release is refused, naming the way out (--volatile, --read-only).
void lock_state(const StateDirs& dirs, const std::string& dest, const std::string& release);

// flock(LOCK_EX) on state/<release>/work, waited for: the lock of the overlay over this state, held from
// before the overlay is mounted until its superblock is gone. A run holds it and hands it to the process that
// holds the overlay and takes it down after the jail has exited (overlay_holder.h), so that run's caller does
// not wait for overlayfs's sync of DEST's filesystem, and the next run of the release does not mount a second
// overlay on the same upper layer before the first one is gone (overlayfs would only warn). Waits for a
// previous overlay's teardown; one that lasts more than a second is said on stderr (a process outside the
// jail holds a file of it), and waited for.
UniqueFd lock_state_mount(const StateDirs& dirs, const std::string& dest, const std::string& release);

// Whether another process holds the lock of state/<release> (for prune: a release whose state is mounted).
// A state whose run has ended but whose overlay is still being taken down is waited for (milliseconds), then
// reported free; still taken down after a second (something outside the jail holds a file of that overlay),
// it is reported in use.
bool state_in_use(int state_dir_fd);

}  // namespace droot::exec
