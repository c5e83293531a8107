// The overlay of a release's state (overlay_root.h), made and taken down by a process of droot-exec's own, off
// run's path at both ends.
//
// Making it. overlayfs's mount is the largest single step of a start-up over a release: ~0.35 ms, mostly its
// superblock's set-up (ovl_fill_super: work/work removed and made again, then tried for xattrs, O_TMPFILE and
// RENAME_WHITEOUT on the upper filesystem, every lower and upper mount cloned privately). Nothing in it needs
// the jail: the layers are directories of the host, and a mount made by fsmount() belongs to no namespace until
// move_mount() attaches it, in whichever namespace calls that. So the holder, made as soon as init is on its
// way, mounts the overlay while init makes its namespaces and the filesystems of its own (/dev, /proc:
// devices.h), and sends it to init (SCM_RIGHTS), which attaches it and builds the rest of the jail on it.
// overlayfs takes the release itself as the lower layer: it clones each lower mount privately and marks the
// clone read-only and noatime (ovl_get_layers), so the release is never written and its atimes stay as they are,
// as with the read-only bind init made before. The holder mounts it in the host's namespace, where
// clone_private_mount finds the layers' mounts (before 6.15 it wants them attached in the caller's namespace).
// With --userns the lower layer is an idmapped clone of the release, which must be attached somewhere first: the
// holder makes a mount namespace of its own (private, so nothing propagates to the host's), attaches it there
// and opens the state's directories again there (checked to be the ones droot-exec opened), acting as the jail's
// root as init did (user_namespace.h, act_as_jail_root).
//
// Taking it down. When the last reference to a mount of overlayfs with a writable upper layer goes, its
// superblock is shut down and overlayfs syncs the upper layer's whole filesystem (generic_shutdown_super →
// sync_filesystem → ovl_sync_fs → sync_filesystem(upper); the kernel's Documentation/filesystems/overlayfs.rst:
// only the "volatile" option skips it). Without help that happens in the exit of the jail's init, the last
// process of its mount namespace (the final mntput is task work of the task that drops it, run before that
// task's exit is reported), so run's caller waited for a syncfs of DEST's filesystem — every dirty inode of it,
// not only the jail's — after every jail: ~1 ms on an idle disk, more beside busy neighbours. The holder keeps a
// reference: the jail's exit only detaches the overlay, whose superblock lives on in the holder; droot-exec,
// having reaped the jail, tells it, and it drops the reference — the sync runs there — and exits, releasing the
// overlay's lock on its state (state_dir.h). Unless its reference was not the last: a process outside the jail
// that holds a file or directory of the overlay (/proc/PID/root, an fd passed out) keeps the superblock, and the
// holder keeps the lock until an inotify watch on the overlay's root says the superblock is gone — or the next
// run would mount a second overlay on the same upper layer (overlay_holder.cc). droot-exec does not wait for it,
// and its caller does not either: the holder outlives droot-exec and is reaped by whoever reaps orphans. Nothing
// is skipped: the sync is the same one, done a moment later, by a process the kernel runs to the end even if it
// is killed (closing the fd is part of any exit). What the service fsync()ed was on disk before it returned, as
// on any filesystem (unlike with "volatile", where overlayfs turns fsync into nothing); what it did not is
// written back by the kernel, as on the host — the unmount's sync was never a guarantee run gave.
#pragma once

#include "fd.h"
#include "mounts.h"

namespace droot::exec {

// The holder. It shares droot-exec's memory (clone(CLONE_VM): nothing is copied; raw syscalls only,
// raw_syscall.h) and keeps no fd but the layers (until the overlay is made), the overlay's lock, the pipe
// droot-exec tells it on and its end of the socket to init — not the run's lock, which the next run must find
// free, nor droot-exec's stdout (a pipe there must reach EOF when droot-exec exits).
class OverlayHolder {
 public:
  OverlayHolder() = default;
  OverlayHolder(OverlayHolder&&) = default;
  OverlayHolder& operator=(OverlayHolder&& o) noexcept {
    finish();
    go_ = std::move(o.go_);
    jail_end_ = std::move(o.jail_end_);
    go_read_ = std::move(o.go_read_);
    holder_end_ = std::move(o.holder_end_);
    return *this;
  }
  ~OverlayHolder() { finish(); }

  // Everything but the process: the socket init will receive the overlay on (jail_end(), which init must
  // inherit, so this comes before init's fork), the pipe, and what the holder will mount: the layers of `plan`
  // (with --userns its user namespace and the paths to find them again). `overlay_lock`: the overlay's lock
  // (droot-exec keeps its fd; the holder gets a copy). Throws Error.
  static OverlayHolder prepare(const MountPlan& plan, int overlay_lock);

  // Makes the holder, which mounts the overlay and sends it to init. In droot-exec's PID namespace (its PID 1's
  // exit would kill the holder, and wait for its exit — the sync — first). After init's fork and its go, which
  // is what run_jail's wall clock waits on: a new task is often started on its parent's core and runs first, so
  // started earlier the holder's mount (~0.3 ms) ran on droot-exec's core before droot-exec could fork init,
  // with the other core idle. Throws Error if it cannot be made.
  void launch();

  // init's end of the socket: init inherits it across the fork; droot-exec closes its copy afterwards.
  int jail_end() const { return jail_end_.get(); }
  // In init, right after the fork: every other end is not init's. Holding the holder's end of the socket, init
  // would never read that the holder died.
  void close_in_init() {
    go_.reset();
    go_read_.reset();
    holder_end_.reset();
  }
  void close_jail_end() { jail_end_.reset(); }

  // The jail has exited (its mount namespace, and with it the overlay's mount, is gone), or never was: the
  // holder drops the overlay, removes overlayfs's work/work (see overlay_holder.cc) and exits. Without launch(),
  // only the ends are closed (init, if it waits, reads that the holder "exited without a word").
  void finish();

 private:
  UniqueFd go_;          // the pipe the holder waits on
  UniqueFd jail_end_;    // init's end of the socket
  UniqueFd go_read_;     // the holder's ends, until launch() has given them to it
  UniqueFd holder_end_;
};

// The steps before fsopen (--userns only), as a failure names them.
enum HolderStep {
  kStepNamespace = -2,  // its own mount namespace, made private
  kStepJailRoot = -3,   // fsuid and fsgid of the jail's root
  kStepOpen = -4,       // the release and the state's directories, found again
  kStepIdmap = -5,      // the release's idmapped clone
  kStepAttach = -6,     // attaching it in the holder's namespace
};

// init's side: what the holder sent. `mount`: the overlay (fsmount's fd, not yet attached anywhere) when it
// was made; otherwise `error` (an errno), the step that failed (a HolderStep, -1 fsopen, 0…N-1 the options
// overlay_config() lists, N FSCONFIG_CMD_CREATE, N+1 fsmount) and `context` (the fs_context, whose log says
// what overlayfs said, when there was one). Throws Error if the holder sent nothing (it died).
struct HeldOverlay {
  UniqueFd mount;
  UniqueFd context;
  int error = 0;
  int step = 0;
};
HeldOverlay receive_overlay(int sock);

}  // namespace droot::exec
