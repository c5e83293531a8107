#include "overlay_holder.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "error.h"
#include "overlay_root.h"
#include "raw_syscall.h"
#include "state_dir.h"

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
  // --userns: the layers are found again in a mount namespace of the holder's own, the release idmapped.
  bool userns;
  int userns_fd;
  unsigned id_shift;
  const char* rootfs;
  const char* dest;
  const char* upper_rel;  // beneath dest
  const char* work_rel;
  size_t count;
  const char* keys[kMaxOptions];
  const char* values[kMaxOptions];
  char text[4 * 4096 + 1024];  // four paths (PATH_MAX each) and the options
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

constexpr size_t kMaxKept = 7;

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

// An O_PATH directory beneath `dir` without symlinks or mount crossings (state_dir.h's rule); `same_as` must
// be the same directory (droot-exec checked that one): -errno otherwise.
long open_same_dir(long dir, const char* rel, int same_as) {
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = dir == AT_FDCWD ? RESOLVE_NO_SYMLINKS : RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV;
  long fd = raw_syscall(SYS_openat2, dir, reinterpret_cast<long>(rel), reinterpret_cast<long>(&how), sizeof how);
  if (fd < 0 || same_as < 0) return fd;
  struct statx a {}, b {};
  long rc = raw_syscall(SYS_statx, fd, reinterpret_cast<long>(""), AT_EMPTY_PATH, STATX_INO, reinterpret_cast<long>(&a));
  if (rc == 0) rc = raw_syscall(SYS_statx, same_as, reinterpret_cast<long>(""), AT_EMPTY_PATH, STATX_INO, reinterpret_cast<long>(&b));
  // Another directory put there since droot-exec opened and checked its own.
  if (rc == 0 && (a.stx_ino != b.stx_ino || a.stx_dev_major != b.stx_dev_major || a.stx_dev_minor != b.stx_dev_minor)) rc = -ESTALE;
  if (rc < 0) {
    raw_syscall(SYS_close, fd, 0, 0);
    return rc;
  }
  return fd;
}

// Puts `fd` at the number `at` (one of droot-exec's layer fds, which the options name as /proc/self/fd/N).
long place(long fd, int at) {
  long rc = raw_syscall(SYS_dup3, fd, at, O_CLOEXEC);
  raw_syscall(SYS_close, fd, 0, 0);
  return rc < 0 ? rc : 0;
}

// --userns: a mount namespace of the holder's own, where the release is attached idmapped (overlayfs takes
// the lower layer from there: clone_private_mount wants it attached in the caller's namespace before 6.15),
// and the layers opened again in it, at the numbers the options name. As init did it: with the jail root's
// fsuid and fsgid (user_namespace.h, act_as_jail_root). Returns 0 or -errno, with the step in `step`.
long userns_layers(int* step) {
  *step = kStepNamespace;
  long rc = raw_syscall(SYS_unshare, CLONE_NEWNS, 0, 0);
  // Private, recursively: nothing attached here may propagate back into the host's namespace.
  if (rc == 0) rc = raw_syscall(SYS_mount, 0, reinterpret_cast<long>("/"), 0, MS_REC | MS_PRIVATE, 0);
  if (rc < 0) return rc;
  *step = kStepJailRoot;
  raw_syscall(SYS_setfsgid, held.id_shift, 0, 0);
  raw_syscall(SYS_setfsuid, held.id_shift, 0, 0);
  if (raw_syscall(SYS_setfsgid, -1, 0, 0) != held.id_shift || raw_syscall(SYS_setfsuid, -1, 0, 0) != held.id_shift) return -EPERM;
  // The kernel drops the filesystem capabilities from the effective set when fsuid leaves 0: raised again.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  rc = raw_syscall(SYS_capget, reinterpret_cast<long>(&header), reinterpret_cast<long>(data), 0);
  data[0].effective = data[0].permitted;
  data[1].effective = data[1].permitted;
  if (rc == 0) rc = raw_syscall(SYS_capset, reinterpret_cast<long>(&header), reinterpret_cast<long>(data), 0);
  if (rc < 0) return rc;
  *step = kStepOpen;
  long release = open_same_dir(AT_FDCWD, held.rootfs, held.lower);
  if (release < 0) return release;
  *step = kStepIdmap;
  long tree = raw_syscall(SYS_open_tree, release, reinterpret_cast<long>(""), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  rc = tree;
  if (tree >= 0) {
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<uint64_t>(held.userns_fd);
    rc = raw_syscall(SYS_mount_setattr, tree, reinterpret_cast<long>(""), AT_EMPTY_PATH, reinterpret_cast<long>(&attr), sizeof attr);
    if (rc == 0) {
      *step = kStepAttach;
      rc = raw_syscall(SYS_move_mount, tree, reinterpret_cast<long>(""), release, reinterpret_cast<long>(""),
                       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    }
  }
  raw_syscall(SYS_close, release, 0, 0);
  if (rc == 0) rc = place(tree, held.lower);
  else if (tree >= 0) raw_syscall(SYS_close, tree, 0, 0);
  if (rc < 0) return rc;
  *step = kStepOpen;
  long dest = open_same_dir(AT_FDCWD, held.dest, -1);
  if (dest < 0) return dest;
  long upper = open_same_dir(dest, held.upper_rel, held.upper);
  long work = upper < 0 ? upper : open_same_dir(dest, held.work_rel, held.work);
  raw_syscall(SYS_close, dest, 0, 0);
  if (upper < 0) return upper;
  if (work < 0) {
    raw_syscall(SYS_close, upper, 0, 0);
    return work;
  }
  rc = place(upper, held.upper);
  long rc2 = place(work, held.work);
  return rc < 0 ? rc : rc2;
}

// fsopen, fsconfig, fsmount: what overlay_root.cc's mount_overlay_root does in init, step for step. Returns
// the overlay's fd, or -1 after reporting the failure.
long make_overlay() {
  Report r{0, -1};
  if (held.userns) {
    long rc = userns_layers(&r.step);
    if (rc < 0) {
      r.error = static_cast<int>(-rc);
      send_report(r, -1);
      for (int fd : {held.lower, held.upper, held.work, held.userns_fd}) raw_syscall(SYS_close, fd, 0, 0);
      return -1;
    }
    r.step = -1;
  }
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
  for (int fd : {held.lower, held.upper, held.work, held.userns_fd}) raw_syscall(SYS_close, fd, 0, 0);
  return r.error == 0 ? mnt : -1;
}

// Whether the overlay's superblock is gone, and not only the holder's reference to it. Any other reference
// keeps it: a process outside the jail that opened a file or directory of it (through /proc/PID/root or /cwd,
// an fd the service passed out over a socket, a tool reading /proc/PID/fd/N at that moment). Then the holder's
// close is not the last, the superblock (and its sync) outlives the holder, and a lock released at the
// holder's exit would let the next run mount a second overlay on the same upper layer while this one still
// exists — overlayfs only warns ("upperdir is in-use … undefined behavior") with index=off. So the holder
// watches the overlay's root with inotify and keeps the lock until the watch is dropped: the kernel sends
// IN_IGNORED (after IN_UNMOUNT) when it tears the superblock's marks down, in generic_shutdown_super, before
// the superblock is released. Returns the inotify fd, or -1 (then the holder's close is taken as the end,
// as before: the watch is a safeguard, not a requirement).
long watch_overlay(long overlay) {
  long in = raw_syscall(SYS_inotify_init1, IN_CLOEXEC, 0, 0);
  if (in < 0) return -1;
  // "/proc/self/fd/N": the mount's root, as a path (inotify_add_watch takes no fd). No printf here.
  char path[32] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  for (long v = overlay; n == 0 || v > 0; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
  char* p = path + 14;
  while (n > 0) *p++ = digits[--n];
  *p = '\0';
  // IN_DELETE_SELF: a mask is required; the root of a filesystem is never deleted, so only the superblock's
  // end (IN_UNMOUNT, IN_IGNORED) is ever read.
  if (raw_syscall(SYS_inotify_add_watch, in, reinterpret_cast<long>(path), IN_DELETE_SELF) < 0) {
    raw_syscall(SYS_close, in, 0, 0);
    return -1;
  }
  return in;
}

// Reads the watch's events until IN_IGNORED (or a read error), then closes it.
void wait_overlay_gone(long in) {
  alignas(inotify_event) char buf[sizeof(inotify_event) + 256];
  for (bool gone = false; !gone;) {
    long n = raw_syscall(SYS_read, in, reinterpret_cast<long>(buf), sizeof buf);
    if (n == -EINTR) continue;
    if (n <= 0) break;
    for (long off = 0; !gone && off + static_cast<long>(sizeof(inotify_event)) <= n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
      gone = (e->mask & IN_IGNORED) != 0;
      off += static_cast<long>(sizeof(inotify_event) + e->len);
    }
  }
  raw_syscall(SYS_close, in, 0, 0);
}

// The holder. Raw syscalls only (raw_syscall.h): droot-exec runs on meanwhile, in the same memory.
int hold(void*) {
  // Before anything else: droot-exec's other fds (the run's lock, its stdout) are not the holder's to keep.
  const int keep[kMaxKept] = {held.lock, held.go, held.sock, held.lower, held.upper, held.work, held.userns_fd};
  close_all_but(keep, kMaxKept);
  long overlay = make_overlay();
  raw_syscall(SYS_close, held.sock, 0, 0);
  // After the overlay is sent: off init's path.
  const long watch = overlay >= 0 ? watch_overlay(overlay) : -1;
  // Until the jail has exited (or droot-exec has died): then this close is normally the last reference.
  char byte = 0;
  long n;
  while ((n = raw_syscall(SYS_read, held.go, reinterpret_cast<long>(&byte), 1)) == -EINTR) {
  }
  raw_syscall(SYS_close, held.go, 0, 0);
  // The overlay's superblock is shut down (and DEST's filesystem synced) before close returns — task work, run
  // on the way back to user space.
  if (overlay >= 0) raw_syscall(SYS_close, overlay, 0, 0);
  // Normally that close was the last reference and the superblock is gone already (IN_IGNORED is queued);
  // otherwise this waits, with the lock, for whatever holds the last one (watch_overlay).
  if (watch >= 0) wait_overlay_gone(watch);
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

OverlayHolder OverlayHolder::prepare(const MountPlan& plan, int overlay_lock) {
  OverlayHolder h;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) throw_errno("cannot create a pipe for the jail's overlay");
  h.go_read_ = UniqueFd(fds[0]);
  UniqueFd go_write(fds[1]);
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) throw_errno("cannot create a socket pair for the jail's overlay");
  h.holder_end_ = UniqueFd(fds[0]);
  h.jail_end_ = UniqueFd(fds[1]);

  held = {};
  held.lock = overlay_lock;
  held.go = h.go_read_.get();
  held.sock = h.holder_end_.get();
  held.lower = plan.layers.lower;
  held.upper = plan.layers.upper;
  held.work = plan.layers.work;
  held.userns = plan.userns_fd >= 0;
  held.userns_fd = plan.userns_fd;
  held.id_shift = plan.id_shift;
  size_t used = 0;
  held.rootfs = keep_text(plan.rootfs, &used);
  held.dest = keep_text(plan.dest, &used);
  held.upper_rel = keep_text(state_dir_name(plan.release) + "/upper", &used);
  held.work_rel = keep_text(state_dir_name(plan.release) + "/work", &used);
  auto options = overlay_config(plan.layers);
  if (options.size() > kMaxOptions) throw Error("too many overlay options");
  for (const auto& [key, value] : options) {
    held.keys[held.count] = keep_text(key, &used);
    held.values[held.count] = keep_text(value, &used);
    ++held.count;
  }
  h.go_ = std::move(go_write);
  return h;
}

void OverlayHolder::launch() {
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
  // The holder has its own copies (no CLONE_FILES).
  go_read_.reset();
  holder_end_.reset();
}

void OverlayHolder::finish() {
  jail_end_.reset();
  holder_end_.reset();
  // Never launched: no holder reads the pipe.
  if (go_read_) go_.reset();
  go_read_.reset();
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
