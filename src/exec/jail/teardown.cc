#include "teardown.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "raw_syscall.h"

namespace droot::exec {

namespace {

// Static: the process that takes the overlay down runs on its stack after droot-exec has returned, and even
// exited (one run makes one such process); each needs a few hundred bytes.
alignas(64) char handover_stack[16 * 1024];
alignas(64) char take_down_stack[16 * 1024];

// The three fds the process keeps. Written before it exists, only read afterwards.
struct Kept {
  int root, lock, go;
};
Kept kept;

constexpr char kJailGone = 'd';

// Closes [first, last] (last ~0U: every fd from `first` on); nothing when the range is empty.
void close_span(unsigned first, unsigned last) {
  if (first <= last) raw_syscall(SYS_close_range, first, last, 0);
}

// The process that outlives droot-exec. Raw syscalls only (raw_syscall.h): droot-exec runs on meanwhile.
int take_down(void*) {
  // Until the jail has exited and droot-exec has closed its own copy of the overlay's fd (or died): then this
  // close is the last reference.
  char byte = 0;
  long n;
  while ((n = raw_syscall(SYS_read, kept.go, reinterpret_cast<long>(&byte), 1)) == -EINTR) {
  }
  raw_syscall(SYS_close, kept.go, 0, 0);
  // The overlay's superblock is shut down (and DEST's filesystem synced) before close returns — task work, run
  // on the way back to user space.
  raw_syscall(SYS_close, kept.root, 0, 0);
  // overlayfs makes work/work anew at every mount and removes the one it finds first (ovl_workdir_create), on
  // the mount's path; on ext4 with -o discard and no journal that removal waits for the device to discard the
  // directory's block. Removed here, with no overlay on the state (the lock is still held), the next mount
  // only makes it. Anything left in it (a crash's debris) fails the rmdir and is overlayfs's to clean, as ever.
  // Not if droot-exec died instead of saying that the jail is gone: the overlay may still be in use.
  if (n == 1 && byte == kJailGone) raw_syscall(SYS_unlinkat, kept.lock, reinterpret_cast<long>("work"), AT_REMOVEDIR);
  return 0;  // the exit lets the lock go
}

// A vfork child: droot-exec is suspended until it exits. It keeps only the overlay, its lock and the pipe — not
// the run's lock (the next run must not find it held), nor droot-exec's stdout and stderr (a pipe there must
// reach EOF when droot-exec exits) — and makes, with that table, the process above.
int hand_over(void*) {
  unsigned fds[3] = {static_cast<unsigned>(kept.root), static_cast<unsigned>(kept.lock), static_cast<unsigned>(kept.go)};
  std::sort(fds, fds + 3);
  unsigned from = 0;
  for (unsigned fd : fds) {
    if (fd > from) close_span(from, fd - 1);
    from = fd + 1;
  }
  close_span(from, ~0U);
  // No exit signal: droot-exec never waits for it; once droot-exec is gone, whoever inherits it reaps it.
  clone(take_down, take_down_stack + sizeof take_down_stack, CLONE_VM, nullptr);
  return 0;
}

}  // namespace

OverlayTeardown OverlayTeardown::start(UniqueFd overlay_root, int overlay_lock, int own_pid_ns) {
  OverlayTeardown t;
  t.root_ = std::move(overlay_root);
  if (!t.root_ || overlay_lock < 0) return t;
  // The jail's PID namespace is where droot-exec's children go since init was made, and the process must not be
  // in it: its PID 1's exit would kill it, and wait for its exit (the sync) first.
  if (own_pid_ns < 0 || setns(own_pid_ns, CLONE_NEWPID) < 0) return t;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return t;
  UniqueFd go_read(fds[0]), go_write(fds[1]);
  kept = {t.root_.get(), overlay_lock, go_read.get()};
  pid_t pid;
  if (!kShareMemory) {
    pid = fork();
    if (pid == 0) {
      hand_over(nullptr);
      _exit(0);
    }
  } else {
    // Back from clone, the child has exited (CLONE_VFORK): its stack is free and the process exists.
    pid = clone(hand_over, handover_stack + sizeof handover_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, nullptr);
  }
  if (pid < 0) return t;  // root_ stays here, and finish() drops it: the sync in droot-exec, as before
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  t.go_ = std::move(go_write);
  return t;
}

void OverlayTeardown::finish() {
  root_.reset();
  if (!go_) return;
  (void)!write(go_.get(), &kJailGone, 1);
  go_.reset();
}

}  // namespace droot::exec
