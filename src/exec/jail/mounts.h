// The jail's mount table, built in a private mount namespace and entered with pivot_root. Nothing is ever
// mounted in the host's namespace, so there is nothing to unmount afterwards: the namespace and every mount in
// it go away with the jail's last process.
//
// Mounts are made with the new mount API (fsopen/fsmount/open_tree/move_mount/mount_setattr, Linux 5.12+):
// every target is an fd found by resolve_in_rootfs(), never a path string that the kernel would resolve
// again from the host's root, and a read-only bind is made read-only, recursively, before it is attached.
#pragma once

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

struct MountPlan {
  std::string rootfs;  // a real path (no symlinks left) of the image's root directory
  std::vector<BindSpec> binds;
  std::vector<std::string> tmpfs;
  std::vector<FileCopy> copies;
  bool read_only = false;
};

// Runs inside the new mount (and PID, for /proc) namespace: makes every mount private, binds the rootfs onto
// itself, builds /dev and /proc, the copies, the binds and tmpfs mounts, makes the root read-only if asked,
// then pivot_root and detaches the old root. Afterwards "/" is the image and the host's tree is gone.
void build_jail_root(const MountPlan& plan);

// Building blocks shared with devices.cc. `what` names the mount in errors.
UniqueFd new_filesystem(const char* fstype, const std::vector<std::pair<std::string, std::string>>& options,
                        unsigned attrs, const std::string& what);
void attach_mount(int mount_fd, int target_fd, const std::string& what);

}  // namespace droot::exec
