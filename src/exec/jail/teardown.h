// The overlay's teardown, off run's path. When the last reference to a mount of overlayfs with a writable
// upper layer goes, its superblock is shut down and overlayfs syncs the upper layer's whole filesystem
// (generic_shutdown_super → sync_filesystem → ovl_sync_fs → sync_filesystem(upper); the kernel's
// Documentation/filesystems/overlayfs.rst: only the "volatile" option skips it). Without help that happens in
// the exit of the jail's init, the last process of its mount namespace (the final mntput is task work of the
// task that drops it, run before that task's exit is reported), so run's caller waited for a syncfs of DEST's
// filesystem — every dirty inode of it, not only the jail's — after every jail: ~1 ms on an idle disk, more
// beside busy neighbours.
//
// Instead init sends droot-exec an fd of the jail's root (the overlay) before the command starts, and droot-exec
// hands it, with the overlay's lock on its state (state_dir.h), to a process of its own made while the command
// runs; the jail's exit then only detaches the overlay, whose superblock lives on in that process; droot-exec,
// having reaped the jail, tells the process, which drops the fd — the sync runs there — and exits, releasing
// the lock. droot-exec does not wait for it, and its caller does not either: the process
// outlives droot-exec and is reaped by whoever reaps orphans. Nothing is skipped: the sync is the same one,
// done a moment later, by a process the kernel runs to the end even if it is killed (closing the fd is part
// of any exit). What the service fsync()ed was on disk before it returned, as on any filesystem (unlike with
// "volatile", where overlayfs turns fsync into nothing); what it did not is written back by the kernel, as
// on the host — the unmount's sync was never a guarantee run gave.
#pragma once

#include "fd.h"

namespace droot::exec {

// The process described above, started while the jail runs (off the path of its end), holding the overlay
// until finish(). It shares droot-exec's memory (clone(CLONE_VM): nothing is copied) and gets no other fd —
// not the run's lock, which the next run must find free, nor droot-exec's stdout (a pipe there must reach EOF
// when droot-exec exits): a vfork child closes all the others, makes the process with what is left and exits,
// droot-exec suspended meanwhile.
class OverlayTeardown {
 public:
  OverlayTeardown() = default;
  OverlayTeardown(OverlayTeardown&&) = default;
  OverlayTeardown& operator=(OverlayTeardown&& o) noexcept {
    finish();
    root_ = std::move(o.root_);
    go_ = std::move(o.go_);
    return *this;
  }
  ~OverlayTeardown() { finish(); }

  // `overlay_root`: the jail's root, from init; `overlay_lock`: the overlay's lock on its state (droot-exec
  // keeps its fd; the process gets a copy); `own_pid_ns`: droot-exec's PID namespace, where the process must
  // be made. If the process cannot be made, droot-exec keeps the overlay and finish() drops it here, as before.
  static OverlayTeardown start(UniqueFd overlay_root, int overlay_lock, int own_pid_ns);

  // The jail has exited (its mount namespace, and with it the overlay's mount, is gone): droot-exec's reference
  // goes, and the process is told to drop the last one. Nothing if start() had nothing.
  void finish();

 private:
  UniqueFd root_;  // droot-exec's reference to the overlay
  UniqueFd go_;    // the pipe the process waits on
};

}  // namespace droot::exec
