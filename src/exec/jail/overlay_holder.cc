#include "overlay_holder.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "error.h"
#include "overlay_root.h"
#include "raw_syscall.h"

namespace droot::exec {

namespace {

// Static: the holder runs on its stack after droot-exec has returned, and even exited (one run makes one
// holder); it needs a few hundred bytes.
alignas(64) char holder_stack[16 * 1024];

constexpr size_t kMaxOptions = 16;
constexpr char kJailGone = 'd';

// What the holder gets. Written before it exists, only read afterwards; the option strings live in `text`,
// never freed (droot-exec's exit runs static destructors while the holder may still be reading).
struct Held {
  int lower, upper, work, lock, go, sock;
  bool make;
  size_t count;
  const char* keys[kMaxOptions];
  const char* values[kMaxOptions];
  char text[2048];
};
Held held;

// What the holder sends init, with one fd: the overlay, or the fs_context of a failure (none if fsopen failed).
struct Report {
  int error;
  int step;
};

// Closes [first, last] (last ~0U: every fd from `first` on); nothing when the range is empty.
void close_span(unsigned first, unsigned last) {
  if (first <= last) raw_syscall(SYS_close_range, first, last, 0);
}

constexpr size_t kMaxKept = 6;

void close_all_but(const int (&keep)[kMaxKept], size_t n) {
  unsigned fds[kMaxKept];
  size_t k = 0;
  for (size_t i = 0; i < n && i < kMaxKept; ++i) {
    if (keep[i] < 0) continue;
    // Insertion, in order: no library call in the holder.
    size_t j = k++;
    for (; j > 0 && fds[j - 1] > static_cast<unsigned>(keep[i]); --j) fds[j] = fds[j - 1];
    fds[j] = static_cast<unsigned>(keep[i]);
  }
  unsigned from = 0;
  for (size_t i = 0; i < k; ++i) {
    if (fds[i] > from) close_span(from, fds[i] - 1);
    from = fds[i] + 1;
  }
  close_span(from, ~0U);
}

long send_report(const Report& r, int fd) {
  iovec iov{const_cast<Report*>(&r), sizeof r};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    *reinterpret_cast<int*>(CMSG_DATA(c)) = fd;
  }
  return raw_syscall(SYS_sendmsg, held.sock, reinterpret_cast<long>(&msg), MSG_NOSIGNAL);
}

// fsopen, fsconfig, fsmount: what overlay_root.cc's mount_overlay_root does in init, step for step. Returns
// the overlay's fd, or -1 after reporting the failure.
long make_overlay() {
  Report r{0, -1};
  long fs = raw_syscall(SYS_fsopen, reinterpret_cast<long>("overlay"), FSOPEN_CLOEXEC, 0);
  long mnt = -1;
  if (fs < 0) {
    r.error = static_cast<int>(-fs);
  } else {
    for (size_t i = 0; i < held.count && r.error == 0; ++i) {
      r.step = static_cast<int>(i);
      long rc = raw_syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, reinterpret_cast<long>(held.keys[i]),
                            reinterpret_cast<long>(held.values[i]), 0);
      if (rc < 0) r.error = static_cast<int>(-rc);
    }
    if (r.error == 0) {
      r.step = static_cast<int>(held.count);
      long rc = raw_syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, 0, 0, 0);
      if (rc < 0) r.error = static_cast<int>(-rc);
    }
    if (r.error == 0) {
      r.step = static_cast<int>(held.count) + 1;
      mnt = raw_syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
      if (mnt < 0) r.error = static_cast<int>(-mnt);
    }
  }
  send_report(r, r.error == 0 ? static_cast<int>(mnt) : static_cast<int>(fs));
  if (fs >= 0) raw_syscall(SYS_close, fs, 0, 0);
  for (int fd : {held.lower, held.upper, held.work}) raw_syscall(SYS_close, fd, 0, 0);
  return r.error == 0 ? mnt : -1;
}

// The jail's root from init (--userns): -1 if init died first.
long receive_root() {
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  long n;
  while ((n = raw_syscall(SYS_recvmsg, held.sock, reinterpret_cast<long>(&msg), MSG_CMSG_CLOEXEC)) == -EINTR) {
  }
  cmsghdr* c = n > 0 ? CMSG_FIRSTHDR(&msg) : nullptr;
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) return -1;
  return *reinterpret_cast<int*>(CMSG_DATA(c));
}

// The holder. Raw syscalls only (raw_syscall.h): droot-exec runs on meanwhile, in the same memory.
int hold(void*) {
  // Before anything else: droot-exec's other fds (the run's lock, its stdout) are not the holder's to keep.
  const int keep[kMaxKept] = {held.lock, held.go, held.sock, held.lower, held.upper, held.work};
  close_all_but(keep, held.make ? 6 : 3);
  long overlay = held.make ? make_overlay() : receive_root();
  raw_syscall(SYS_close, held.sock, 0, 0);
  // Until the jail has exited (or droot-exec has died): then this close is the last reference.
  char byte = 0;
  long n;
  while ((n = raw_syscall(SYS_read, held.go, reinterpret_cast<long>(&byte), 1)) == -EINTR) {
  }
  raw_syscall(SYS_close, held.go, 0, 0);
  // The overlay's superblock is shut down (and DEST's filesystem synced) before close returns — task work, run
  // on the way back to user space.
  if (overlay >= 0) raw_syscall(SYS_close, overlay, 0, 0);
  // overlayfs makes work/work anew at every mount and removes the one it finds first (ovl_workdir_create), on
  // the mount's path; on ext4 with -o discard and no journal that removal waits for the device to discard the
  // directory's block. Removed here, with no overlay on the state (the lock is still held), the next mount
  // only makes it. Anything left in it (a crash's debris) fails the rmdir and is overlayfs's to clean, as ever.
  // Not if droot-exec died instead of saying that the jail is gone: the overlay may still be in use.
  if (n == 1 && byte == kJailGone) raw_syscall(SYS_unlinkat, held.lock, reinterpret_cast<long>("work"), AT_REMOVEDIR);
  return 0;  // the exit lets the lock go
}

// Copies `s` into held.text at `*used`; the holder reads it from there.
const char* keep_text(const std::string& s, size_t* used) {
  if (*used + s.size() + 1 > sizeof held.text) throw Error("the overlay's options are too long: " + s);
  char* p = held.text + *used;
  std::memcpy(p, s.c_str(), s.size() + 1);
  *used += s.size() + 1;
  return p;
}

}  // namespace

OverlayHolder OverlayHolder::start(const OverlayLayers* make, int overlay_lock) {
  OverlayHolder h;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) throw_errno("cannot create a pipe for the jail's overlay");
  UniqueFd go_read(fds[0]), go_write(fds[1]);
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) throw_errno("cannot create a socket pair for the jail's overlay");
  UniqueFd holder_end(fds[0]), jail_end(fds[1]);

  held = {};
  held.lower = held.upper = held.work = -1;
  held.lock = overlay_lock;
  held.go = go_read.get();
  held.sock = holder_end.get();
  held.make = make != nullptr;
  if (make) {
    held.lower = make->lower;
    held.upper = make->upper;
    held.work = make->work;
    auto options = overlay_config(*make);
    if (options.size() > kMaxOptions) throw Error("too many overlay options");
    size_t used = 0;
    for (const auto& [key, value] : options) {
      held.keys[held.count] = keep_text(key, &used);
      held.values[held.count] = keep_text(value, &used);
      ++held.count;
    }
  }
  pid_t pid;
  if (!kShareMemory) {
    pid = fork();
    if (pid == 0) _exit(hold(nullptr));
  } else {
    // No exit signal: droot-exec never waits for it (a clone child without one is invisible to waitpid
    // without __WALL); once droot-exec is gone, whoever inherits it reaps it.
    pid = clone(hold, holder_stack + sizeof holder_stack, CLONE_VM, nullptr);
  }
  if (pid < 0) throw_errno("cannot start the process that holds the jail's overlay");
  h.go_ = std::move(go_write);
  h.jail_end_ = std::move(jail_end);
  return h;
}

void OverlayHolder::finish() {
  jail_end_.reset();
  if (!go_) return;
  (void)!write(go_.get(), &kJailGone, 1);
  go_.reset();
}

HeldOverlay receive_overlay(int sock) {
  Report r{};
  iovec iov{&r, sizeof r};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0) throw_errno("cannot receive the jail's overlay");
  if (n != static_cast<ssize_t>(sizeof r)) throw Error("the process that mounts the jail's overlay exited without a word");
  HeldOverlay out;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    (r.error == 0 ? out.mount : out.context) = UniqueFd(fd);
  }
  out.error = r.error;
  out.step = r.step;
  if (r.error == 0 && !out.mount) throw Error("the process that mounts the jail's overlay sent no overlay");
  return out;
}

}  // namespace droot::exec
