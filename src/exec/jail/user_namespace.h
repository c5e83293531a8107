// The jail's user namespace (`run --userns`): ids 0…COUNT-1 inside are host ids BASE…BASE+COUNT-1, and no
// other host id exists in it (those show as the overflow id 65534, "nobody").
//
// Who does what, and why in this order (jail.h):
//   droot-exec   make_user_namespace(): a short-lived child is made in a new user namespace
//                (clone(CLONE_NEWUSER | CLONE_VM): it borrows droot-exec's memory, so no page tables are copied,
//                and droot-exec need not hear from it — the maps of a process that has not run yet can be
//                written), droot-exec writes its uid_map and gid_map and keeps /proc/CHILD/ns/user open — the
//                namespace then lives on that fd with no process in it. Written by host root, the maps may cover the whole range and
//                /proc/PID/setgroups stays "allow" (the kernel demands "deny" only of an unprivileged writer
//                of gid_map, user_namespaces(7)): the command's supplementary groups from the image's
//                /etc/group can still be set, and only groups inside the mapping.
//   init         builds the whole mount table as host root in a mount namespace the host's user namespace
//                owns: only host root may create idmapped mounts of a host filesystem (the superblock's
//                namespace must be the caller's, can_idmap_mount()), and only it may mknod /dev's nodes. Then
//                enter_user_namespace() and only then the IPC, UTS, network and cgroup namespaces, so that the
//                user namespace owns those: the jail's root may set its hostname and bind port 80 in its own
//                network namespace, and nothing in the host's.
//   command      setresuid(0) inside is host uid BASE; the capability keep-list is applied as ever, and now
//                means capabilities over the jail's own namespaces and the files its ids own — never over the
//                mount namespace, the PID namespace or /proc/sys, which the host's user namespace owns.
#pragma once

#include <utility>

#include "fd.h"
#include "userns_range.h"

namespace droot::exec {

#include <sys/types.h>

// The namespace on an fd, and the short-lived process that made it. That process has been told to exit when
// make_user_namespace() returns; reap() waits for it — run_jail calls it once init is on its way, so that the
// process's exit is not on the start-up's path — and the destructor does, if nobody did.
class UserNamespace {
 public:
  UserNamespace() = default;
  UserNamespace(UniqueFd fd, pid_t holder) : fd_(std::move(fd)), holder_(holder) {}
  UserNamespace(UserNamespace&& o) noexcept : fd_(std::move(o.fd_)), holder_(o.holder_) { o.holder_ = -1; }
  UserNamespace& operator=(UserNamespace&& o) noexcept;
  ~UserNamespace() { reap(); }

  int fd() const { return fd_.get(); }
  void close_fd() { fd_.reset(); }
  void reap() noexcept;

 private:
  UniqueFd fd_;
  pid_t holder_ = -1;
};

// Throws Error naming the cause: user namespaces disabled (user.max_user_namespaces = 0), the kernel's limit
// reached, a seccomp filter around droot-exec.
UserNamespace make_user_namespace(const IdRange& range);

// Before the mounts are built: fsuid/fsgid become `host_id` (the jail's root), so that what init creates for
// the jail — mount points, /dev and its nodes, the tmpfs roots, the --copy files — is the jail root's, not
// unmapped host root's; through the idmapped root a file created by host uid 0 would even fail (EOVERFLOW).
// The kernel drops the filesystem capabilities from the effective set when fsuid leaves 0; they are raised
// again (still in the permitted set), since building the mounts needs them.
void act_as_jail_root(uint32_t host_id);

// setns(CLONE_NEWUSER) into `userns_fd`: the caller gets every capability inside it (and keeps host uid 0,
// which is unmapped there). Must be single-threaded and not share its fs_struct (the kernel's rules).
void enter_user_namespace(int userns_fd);

}  // namespace droot::exec
