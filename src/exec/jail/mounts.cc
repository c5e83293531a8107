#include "mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>

#include "devices.h"
#include "error.h"
#include "overlay_root.h"
#include "rootfs_path.h"
#include "run_mountpoints.h"

namespace droot::exec {

UniqueFd new_filesystem(const char* fstype, const std::vector<std::pair<std::string, std::string>>& options,
                        unsigned attrs, const std::string& what) {
  UniqueFd fs(fsopen(fstype, FSOPEN_CLOEXEC));
  if (!fs) {
    if (errno == ENOSYS) throw Error("cannot mount " + what + ": droot-exec run needs Linux 5.12 or newer (new mount API)");
    throw_errno("cannot mount " + what + " (fsopen " + fstype + ")");
  }
  for (const auto& [key, value] : options) {
    int rc = value.empty() ? fsconfig(fs.get(), FSCONFIG_SET_FLAG, key.c_str(), nullptr, 0)
                           : fsconfig(fs.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0);
    if (rc < 0) throw_errno("cannot mount " + what + ": option " + key + (value.empty() ? "" : "=" + value));
  }
  if (fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) throw_errno("cannot mount " + what);
  UniqueFd mnt(fsmount(fs.get(), FSMOUNT_CLOEXEC, attrs));
  if (!mnt) throw_errno("cannot mount " + what + " (fsmount)");
  return mnt;
}

void attach_mount(int mount_fd, int target_fd, const std::string& what) {
  if (move_mount(mount_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    throw_errno("cannot attach the mount of " + what);
}

// A private copy of a mount tree, detached until attach_mount() puts it somewhere. The source must be attached
// in this mount namespace: kernels before 6.15 refuse (EINVAL, check_mnt() in __do_loopback) to clone a mount
// that still lives in the anonymous namespace fsmount() gives it, so a filesystem made here is attached once
// before anything is cloned from it (attach_proc, install_copies). Debian 12's 6.1 is such a kernel.
UniqueFd clone_tree(int dirfd, const char* path, bool recursive, const std::string& what) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0) | (*path ? 0 : AT_EMPTY_PATH);
  UniqueFd tree(open_tree(dirfd, path, flags));
  if (!tree) throw_errno("cannot bind " + what + " (open_tree)");
  return tree;
}

void set_attrs(int mount_fd, uint64_t attrs, bool recursive, const std::string& what) {
  mount_attr attr{};
  attr.attr_set = attrs;
  // Only the named flags change; nosuid/nodev/noexec already on the source are kept (bubblewrap has to
  // re-read them from statvfs and pass them back to MS_REMOUNT; mount_setattr leaves them alone).
  if (mount_setattr(mount_fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
    throw_errno("cannot change the mount flags of " + what);
}

void idmap_tree(int mount_fd, int userns_fd, int source_fd, const std::string& what) {
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns_fd);
  if (mount_setattr(mount_fd, "", AT_EMPTY_PATH, &attr, sizeof attr) == 0) return;
  idmap_failed(errno, source_fd, what);
}

void idmap_failed(int err, int source_fd, const std::string& what) {
  struct utsname u {};
  uname(&u);
  const std::string fs = filesystem_type(source_fd);
  // EINVAL: the filesystem does not take idmapped mounts (FS_ALLOW_IDMAP: ext4, xfs, btrfs, f2fs, fat from
  // 5.12-5.15; tmpfs only from 6.3; never overlayfs, NFS or FUSE before 6.12). --userns never falls back to
  // presenting the image with host ids: its root would then own nothing, or real root's files.
  if (err == EINVAL || err == ENOSYS || err == E2BIG)
    throw Error("cannot present " + what + " to the jail's user namespace (--userns): " +
                (err == EINVAL ? "Linux " + std::string(u.release) + " cannot make an idmapped mount of " + fs
                               : "Linux " + std::string(u.release) + " has no idmapped mounts (5.12+)") +
                "; keep releases on ext4, xfs or btrfs (tmpfs needs Linux 6.3), or run without --userns "
                "(--userns=off)");
  errno = err;
  throw_errno("cannot present " + what + " to the jail's user namespace (--userns, mount_setattr MOUNT_ATTR_IDMAP)");
}

namespace {

constexpr unsigned kNoSuidDevExec = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;

// Binds the host path `source` (already checked to exist) onto `dest` inside the rootfs.
void bind_into(int root, const BindSpec& bind, std::vector<std::string>& created) {
  std::string what = bind.source + " on " + bind.dest;
  struct stat st {};
  if (stat(bind.source.c_str(), &st) < 0) throw_errno("cannot bind " + what + ": the source");
  ResolvedPath dest = resolve_in_rootfs(root, bind.dest, S_ISDIR(st.st_mode) ? Create::Directory : Create::File);
  dest.add_created_to(created);
  if (dest.is_dir != S_ISDIR(st.st_mode))
    throw Error("cannot bind " + what + ": " + dest.path + " in the rootfs is " +
                (dest.is_dir ? "a directory and the source is not" : "not a directory and the source is one"));
  UniqueFd tree = clone_tree(AT_FDCWD, bind.source.c_str(), true, what);
  // Made read-only while still detached: there is no moment where the jail could see it writable.
  if (bind.read_only) set_attrs(tree.get(), MOUNT_ATTR_RDONLY, true, what);
  attach_mount(tree.get(), dest.fd.get(), what);
}

void tmpfs_into(int root, const std::string& dest_path, std::vector<std::string>& created) {
  ResolvedPath dest = resolve_in_rootfs(root, dest_path, Create::Directory);
  dest.add_created_to(created);
  if (!dest.is_dir) throw Error("cannot mount a tmpfs on " + dest_path + ": it is not a directory in the rootfs");
  // Like docker's --tmpfs: world-writable with the sticky bit (it is usually /tmp), no set-uid, no devices.
  UniqueFd fs = new_filesystem("tmpfs", {{"mode", "1777"}}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "tmpfs " + dest_path);
  attach_mount(fs.get(), dest.fd.get(), "tmpfs " + dest_path);
}

// The copies are files of the jail's /dev (its own tmpfs, where make_dev staged them), each bound over its place
// and then unlinked from /dev: only the binds keep them. The image's file (often an empty placeholder left by
// docker export) is hidden, not rewritten, so the release on disk stays as deployed and --read-only does not
// stop them. Writes in the jail go to the private copy, never to the host's file. Not a tmpfs of their own:
// that one had to be attached somewhere to be cloned from (clone_tree) and detached again, and every detach
// waits for an RCU grace period (namespace_unlock → synchronize_rcu_expedited), 0.06–0.6 ms of each start-up
// on a 2-core VM; an unlink waits for nothing. `dev`: /dev's tmpfs, attached.
void install_copies(int root, int dev, const std::vector<FileCopy>& copies, std::vector<std::string>& created) {
  for (size_t i = 0; i < copies.size(); ++i) {
    const FileCopy& c = copies[i];
    const std::string name = staged_copy_name(i);
    ResolvedPath dest = resolve_in_rootfs(root, c.dest, Create::File);
    dest.add_created_to(created);
    if (dest.is_dir) throw Error("cannot copy " + c.dest + " into the jail: it is a directory in the rootfs");
    UniqueFd tree = clone_tree(dev, name.c_str(), false, "the copy of " + c.dest);
    // /dev's own flags (nosuid, noexec) come with the clone; nodev as the rest of the rootfs has it.
    set_attrs(tree.get(), MOUNT_ATTR_NODEV, false, "the copy of " + c.dest);
    attach_mount(tree.get(), dest.fd.get(), "the copy of " + c.dest);
    if (unlinkat(dev, name.c_str(), 0) < 0) throw_errno("cannot remove the staged copy of " + c.dest + " from /dev");
  }
}

// Parts of /proc that reach past every namespace into the host kernel. Root in the jail owns /proc/sys's files
// by uid alone (no capability needed: writing kernel.core_pattern would run a host program), so, as docker
// does, these become read-only and the leaky ones are hidden.
constexpr const char* kProcReadOnly[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"};
constexpr const char* kProcMasked[] = {"/proc/kcore",       "/proc/keys",        "/proc/timer_list", "/proc/sched_debug",
                                       "/proc/latency_stats", "/proc/timer_stats", "/proc/acpi",       "/proc/scsi",
                                       "/proc/asound"};

// /proc's filesystems, made before the root (as make_dev, devices.h): proc, and the empty tmpfs that hides
// parts of it.
struct ProcFilesystems {
  UniqueFd proc;
  UniqueFd empty;
};

ProcFilesystems make_proc() {
  ProcFilesystems fs;
  // fsopen takes the PID namespace of the caller, PID 1 of the new one: the jail sees only its own processes.
  fs.proc = new_filesystem("proc", {}, kNoSuidDevExec, "proc on /proc");
  fs.empty = new_filesystem("tmpfs", {{"mode", "0"}}, MOUNT_ATTR_RDONLY | kNoSuidDevExec, "the tmpfs that hides parts of /proc");
  return fs;
}

void attach_proc(int root, const ProcFilesystems& fs, std::vector<std::string>& created) {
  ResolvedPath target = resolve_in_rootfs(root, "/proc", Create::Directory);
  target.add_created_to(created);
  if (!target.is_dir) throw Error("cannot mount /proc: /proc in the rootfs is not a directory");
  const int proc = fs.proc.get();
  attach_mount(proc, target.fd.get(), "proc on /proc");

  for (const char* path : kProcReadOnly) {
    UniqueFd fd(openat(proc, path + 6, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) continue;  // not every kernel has every file
    UniqueFd tree = clone_tree(fd.get(), "", true, path);
    set_attrs(tree.get(), MOUNT_ATTR_RDONLY | kNoSuidDevExec, true, path);
    attach_mount(tree.get(), fd.get(), path);
  }
  // Directories are hidden under one empty read-only tmpfs: attached on the first of them, then cloned from
  // there (clone_tree's source must be attached), files under the jail's /dev/null (attached since attach_dev).
  const int empty = fs.empty.get();
  bool empty_attached = false;
  UniqueFd null = resolve_in_rootfs(root, "/dev/null").fd;
  for (const char* path : kProcMasked) {
    UniqueFd fd(openat(proc, path + 6, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) continue;
    struct stat st {};
    if (fstat(fd.get(), &st) < 0) throw_errno(std::string("cannot stat ") + path);
    if (S_ISDIR(st.st_mode) && !empty_attached) {
      attach_mount(empty, fd.get(), path);
      empty_attached = true;
      continue;
    }
    UniqueFd cover = clone_tree(S_ISDIR(st.st_mode) ? empty : null.get(), "", false, path);
    attach_mount(cover.get(), fd.get(), path);
  }
}

void pivot_into(int root) {
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves only the jail. Unlike
  // chroot, the old tree is no longer in this namespace at all, so chroot+chdir("..") tricks find nothing.
  if (fchdir(root) < 0) throw_errno("cannot enter the rootfs");
  if (syscall(SYS_pivot_root, ".", ".") < 0) throw_errno("cannot pivot_root into the rootfs");
  if (umount2(".", MNT_DETACH) < 0) throw_errno("cannot detach the host's root after pivot_root");
  if (chdir("/") < 0) throw_errno("cannot chdir to the new root");
}

size_t depth(const std::string& path) { return std::count(path.begin(), path.end(), '/'); }

}  // namespace

void build_jail_root(const MountPlan& plan) {
  // Private, recursively: the mounts below must not propagate back into the host's namespace (a shared "/"
  // would copy every one of them there), and pivot_root refuses shared mounts anyway.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) throw_errno("cannot make / private in the jail's mount namespace");
  // First what is the jail's own and needs no rootfs (devices.h): over a release, the holder is still mounting
  // the overlay meanwhile, which init would otherwise wait for.
  DevFilesystems dev = make_dev(plan.copies);
  ProcFilesystems proc = make_proc();
  // pivot_root needs a mount point: an overlayfs over the release (its writes go to the state, overlay_root.h),
  // or the rootfs bound onto itself. Either way not recursive: mounts that happen to sit below the rootfs on the
  // host are not part of the image and stay out; it also makes --read-only cover the whole image with one flag.
  UniqueFd root;
  if (plan.root == RootMode::State || plan.root == RootMode::Volatile) {
    root = mount_overlay_root(plan);
  } else {
    if (plan.userns_fd >= 0) {
      // Idmapped, so the clone of the new mount API: the flag can only be set while the mount is detached.
      UniqueFd dir(open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dir) throw_errno("cannot open the rootfs " + plan.rootfs);
      UniqueFd tree = clone_tree(dir.get(), "", false, "the rootfs " + plan.rootfs);
      idmap_tree(tree.get(), plan.userns_fd, dir.get(), "the rootfs " + plan.rootfs);
      attach_mount(tree.get(), dir.get(), "the rootfs " + plan.rootfs);
    } else if (mount(plan.rootfs.c_str(), plan.rootfs.c_str(), nullptr, MS_BIND, nullptr) < 0) {
      throw_errno("cannot bind the rootfs " + plan.rootfs + " onto itself");
    }
    root = UniqueFd(open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root) throw_errno("cannot open the rootfs " + plan.rootfs);
  }
  // A device node shipped in the image (deploy --allow-devices) would open the host's disk without any
  // capability: only /dev, which droot-exec fills itself, has working nodes.
  set_attrs(root.get(), MOUNT_ATTR_NODEV, false, "the rootfs " + plan.rootfs);

  // Mount points the image lacked (run_mountpoints.h). Over an overlay they are made, and recorded, in the
  // upper layer: the release stays as deployed, and check --changes knows them from the service's writes.
  std::vector<std::string> created;
  attach_dev(root.get(), dev, created);
  attach_proc(root.get(), proc, created);
  install_copies(root.get(), dev.dev.get(), plan.copies, created);

  // Parents before children, so that `--bind a:/data --tmpfs /data/cache` nests the way it reads.
  struct UserMount {
    std::string dest;
    const BindSpec* bind;
  };
  std::vector<UserMount> user_mounts;
  for (const auto& b : plan.binds) user_mounts.push_back({b.dest, &b});
  for (const auto& t : plan.tmpfs) user_mounts.push_back({t, nullptr});
  std::stable_sort(user_mounts.begin(), user_mounts.end(),
                   [](const UserMount& a, const UserMount& b) { return depth(a.dest) < depth(b.dest); });
  for (const auto& m : user_mounts) {
    if (m.bind)
      bind_into(root.get(), *m.bind, created);
    else
      tmpfs_into(root.get(), m.dest, created);
  }
  record_run_mountpoints(root.get(), created);

  if (plan.root == RootMode::ReadOnly) set_attrs(root.get(), MOUNT_ATTR_RDONLY, false, "the rootfs (--read-only)");
  pivot_into(root.get());
}

}  // namespace droot::exec
