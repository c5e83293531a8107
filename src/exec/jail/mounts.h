// The jail's mount table, built in a private mount namespace and entered with pivot_root. Nothing is ever
// mounted in the host's namespace, so there is nothing to unmount afterwards: the namespace and every mount in
// it go away with the jail's last process.
//
// Mounts are made with the new mount API (fsopen/fsmount/open_tree/move_mount/mount_setattr, Linux 5.12+):
// every target is an fd found by resolve_in_rootfs(), never a path string that the kernel would resolve
// again from the host's root, and a read-only bind is made read-only, recursively, before it is attached.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fd.h"
#include "run_options.h"

namespace droot::exec {

// A host file copied into the jail (--copy): its bytes were read before the namespaces were made.
struct FileCopy {
  std::string dest;
  std::string content;
  mode_t mode = 0644;
};

// What the jail's "/" is, and where its writes go (docs/run.md, "The root"; overlay_root.h).
enum class RootMode {
  Bind,      // a plain ROOT (not a release): the directory itself, writable, as chroot or bwrap --bind would
  ReadOnly,  // --read-only: the directory itself, read-only
  State,     // a release, by default: an overlayfs over it, writes in DEST/state/<release>/upper (state_dir.h)
  Volatile,  // --volatile: an overlayfs over it, writes in a tmpfs that goes away with the jail
};

// The layers of a release's overlay (overlay_root.h), as fds of droot-exec (O_PATH, opened beneath DEST:
// state_dir.h); -1 when unknown.
struct OverlayLayers {
  int lower = -1;  // the release
  int upper = -1;
  int work = -1;
};

struct MountPlan {
  std::string rootfs;  // a real path (no symlinks left) of the image's root directory
  RootMode root = RootMode::Bind;
  std::string dest;     // RootMode::State: DEST's real path, and the release (rootfs is DEST/releases/<release>)
  std::string release;
  std::vector<BindSpec> binds;
  std::vector<std::string> tmpfs;
  std::vector<FileCopy> copies;
  // --userns (user_namespace.h): the jail's user namespace, through which the image's root is presented as an
  // idmapped mount (-1: none), and the host id of the jail's root. Binds are not idmapped: a host directory
  // shows its host owners as the namespace maps them (owned by `id_shift`: root's inside; by host root: nobody).
  int userns_fd = -1;
  uint32_t id_shift = 0;
  // RootMode::State: the socket on which the process that holds the overlay (overlay_holder.h) sends it,
  // mounted over `layers` (-1 in the other modes).
  int overlay_sock = -1;
  OverlayLayers layers;
};

// Runs inside the new mount (and PID, for /proc) namespace: makes every mount private, mounts the root as
// `plan.root` says (the rootfs bound onto itself, or an overlayfs over it), builds /dev and /proc, the copies,
// the binds and tmpfs mounts, makes the root read-only if asked, then pivot_root and detaches the old root.
// Afterwards "/" is the image and the host's tree is gone.
void build_jail_root(const MountPlan& plan);

// Building blocks shared with devices.cc and overlay_root.cc. `what` names the mount in errors.
UniqueFd new_filesystem(const char* fstype, const std::vector<std::pair<std::string, std::string>>& options,
                        unsigned attrs, const std::string& what);
void attach_mount(int mount_fd, int target_fd, const std::string& what);
// A private copy of the mount tree at `path` beneath `dirfd` ("" for dirfd itself), detached until attached.
UniqueFd clone_tree(int dirfd, const char* path, bool recursive, const std::string& what);
// mount_setattr: sets `attrs` (MOUNT_ATTR_*) and leaves every other flag as it is.
void set_attrs(int mount_fd, uint64_t attrs, bool recursive, const std::string& what);
// mount_setattr(MOUNT_ATTR_IDMAP) of a detached tree: its files' owners as `userns_fd` maps them (disk uid 0 →
// the namespace's root). Not recursive: the caller idmaps what it cloned, nothing that happens to sit below.
// Throws Error naming the filesystem and the kernel where they cannot do it, and the way out.
// `source_fd`: the attached directory the tree was cloned from (a detached mount has no line in mountinfo to
// name its filesystem by).
void idmap_tree(int mount_fd, int userns_fd, int source_fd, const std::string& what);
// idmap_tree's error for mount_setattr's `err`.
[[noreturn]] void idmap_failed(int err, int source_fd, const std::string& what);

}  // namespace droot::exec
