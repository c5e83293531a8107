#include "state_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "beneath.h"
#include "dir_names.h"
#include "error.h"
#include "io.h"
#include "state_changes.h"

namespace droot::exec {

namespace {

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool plain_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

void check_private(int fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd, &st) < 0) throw_errno("cannot stat " + path);
  if (!S_ISDIR(st.st_mode)) throw Error(path + " is not a directory");
  if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw Error(path + " is owned by uid " + std::to_string(st.st_uid) + " with mode " + mode +
                ": whoever can write a release's state decides what the jail's root holds, so droot-exec uses it "
                "only when it is root's and writable by nobody else (chown root and chmod 0700 it, or remove it)");
  }
}

// mkdirat + open beneath `parent`, never through a symlink; `created` says whether this call made it.
UniqueFd make_dir(int parent, const std::string& name, const std::string& path, bool& created) {
  created = mkdirat(parent, name.c_str(), 0700) == 0;
  if (!created && errno != EEXIST) throw_errno("cannot create " + path);
  UniqueFd fd = open_beneath(parent, name, O_RDONLY | O_DIRECTORY);
  if (!fd) throw Error("cannot open " + path + ": " + beneath_error_text(errno));
  return fd;
}

UniqueFd open_dir(int parent, const std::string& rel, int flags, const std::string& path) {
  UniqueFd fd = open_beneath(parent, rel, flags | O_DIRECTORY);
  if (!fd) {
    if (errno == ENOENT) throw Error(path + " does not exist (removed while run was starting?)");
    throw Error("cannot open " + path + ": " + beneath_error_text(errno));
  }
  return fd;
}

constexpr const char* kIdsFile = "ids";

std::string read_ids(int dir, const std::string& path) {
  UniqueFd fd = open_beneath(dir, kIdsFile, O_RDONLY);
  if (!fd) {
    if (errno == ENOENT) return "host";
    throw Error("cannot open " + path + ": " + beneath_error_text(errno));
  }
  char buf[64];
  ssize_t n = read(fd.get(), buf, sizeof buf - 1);
  if (n < 0) throw_errno("cannot read " + path);
  std::string text(buf, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

void write_ids(int dir, const std::string& path, const std::string& text) {
  const std::string tmp = std::string(kIdsFile) + ".tmp";
  unlinkat(dir, tmp.c_str(), 0);
  UniqueFd fd(openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw_errno("cannot write " + path);
  write_all(fd.get(), text + "\n", path);
  if (renameat(dir, tmp.c_str(), dir, kIdsFile) < 0) throw_errno("cannot replace " + path);
}

// Whether the service wrote anything into upper: what check --changes would list (state_changes.h). Without
// the release to compare with, only an empty upper counts as nothing.
bool nothing_written(int upper_path_fd, int release_fd, const std::string& path) {
  UniqueFd upper(openat(upper_path_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!upper) throw_errno("cannot read " + path);
  if (release_fd < 0) return dir_names(upper.get(), path).empty();
  UniqueFd release(openat(release_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!release) throw_errno("cannot read the release");
  return list_state_changes(upper.get(), release.get(), path).changes.empty();
}

struct OwnerShift {
  uid_t from, to;

  struct stat one(int at, const char* name, const std::string& what) const {
    const int flags = AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH);
    struct stat st {};
    if (fstatat(at, name, &st, flags) < 0) throw_errno("cannot stat " + what);
    uid_t uid = st.st_uid >= from ? st.st_uid - from + to : st.st_uid;
    gid_t gid = st.st_gid >= from ? st.st_gid - from + to : st.st_gid;
    if (fchownat(at, name, uid, gid, flags) < 0) throw_errno("cannot chown " + what);
    // chown clears the set-id bits of files: put the mode back.
    if (!S_ISLNK(st.st_mode) && (st.st_mode & 06000) && fchmodat(at, name, st.st_mode & 07777, 0) < 0)
      throw_errno("cannot chmod " + what);
    return st;
  }

  void below(int dir_path_fd, const std::string& path) const {
    UniqueFd dir(openat(dir_path_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw_errno("cannot read " + path);
    for (const std::string& name : dir_names(dir.get(), path)) {
      struct stat st = one(dir.get(), name.c_str(), path + "/" + name);
      if (!S_ISDIR(st.st_mode)) continue;
      UniqueFd child(openat(dir.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child) throw_errno("cannot open " + path + "/" + name);
      below(child.get(), path + "/" + name);
    }
  }
};

// Every entry of `dir` (itself included) from ids `from`… to `to`…, never through a symlink. Only for an upper
// that holds run's own few entries (nothing_written), so recursion depth and count stay small.
void shift_owners(int dir_path_fd, uid_t from, uid_t to, const std::string& path) {
  if (from == to) return;
  OwnerShift s{from, to};
  s.one(dir_path_fd, "", path);
  s.below(dir_path_fd, path);
}

}  // namespace

std::string state_dir_name(const std::string& release) { return std::string(kStateDir) + "/" + release; }

std::optional<ReleaseRef> release_of(const std::string& rootfs) {
  std::string releases = parent_of(rootfs);
  std::string name = base_of(rootfs);
  if (releases.empty() || base_of(releases) != "releases" || !plain_name(name)) return std::nullopt;
  std::string dest = parent_of(releases);
  if (dest.empty()) return std::nullopt;
  struct stat st {};
  bool has_current = lstat((dest == "/" ? "/current" : dest + "/current").c_str(), &st) == 0 && S_ISLNK(st.st_mode);
  bool has_lock = lstat((dest == "/" ? "/.droot.lock" : dest + "/.droot.lock").c_str(), &st) == 0 && S_ISREG(st.st_mode);
  if (!has_current && !has_lock) return std::nullopt;
  return ReleaseRef{dest, name};
}

std::string state_ids_text(const std::optional<IdRange>& ids) { return ids ? range_text(*ids) : "host"; }

std::optional<IdRange> read_state_ids(int state_release_fd, const std::string& path) {
  const std::string text = read_ids(state_release_fd, path + "/" + kIdsFile);
  if (text == "host") return std::nullopt;
  try {
    UsernsRequest r = parse_userns(text, path + "/" + kIdsFile);
    if (r.mode == UsernsMode::Explicit) return r.range;
  } catch (const Error&) {
  }
  throw Error(path + "/" + kIdsFile + " holds '" + text + "', not host or BASE:COUNT");
}

StateDirs make_state_dirs(int dest_fd, const std::string& dest, const std::string& release,
                          const struct stat& release_root, const std::optional<IdRange>& ids, int release_fd) {
  if (!plain_name(release)) throw Error("'" + release + "' is not a release name");
  const std::string state_path = dest + "/" + kStateDir;
  const std::string dir_path = dest + "/" + state_dir_name(release);
  bool created = false;
  UniqueFd state = make_dir(dest_fd, kStateDir, state_path, created);
  check_private(state.get(), state_path);
  StateDirs out;
  out.dir = make_dir(state.get(), release, dir_path, created);
  check_private(out.dir.get(), dir_path);
  UniqueFd upper = make_dir(out.dir.get(), "upper", dir_path + "/upper", created);
  const std::string want = state_ids_text(ids);
  std::string had = want;
  if (!created) {
    had = read_ids(out.dir.get(), dir_path + "/" + kIdsFile);
    if (had != want && !nothing_written(upper.get(), release_fd, dir_path + "/upper"))
      throw Error("the state of release " + release + " (" + dir_path + ") was written " +
                  (had == "host" ? std::string("without --userns") : "with --userns host ids " + had) +
                  ", so its files are owned by those ids, and this run would have " +
                  (ids ? "host ids " + want : std::string("no user namespace")) + ": run with " +
                  (had == "host" ? std::string("--userns=off") : "--userns=" + had) + ", or remove " + dir_path +
                  " (what the service wrote there is lost)");
  }
  if (created || had != want) {
    // The upper root is what the jail sees as "/" (overlayfs takes the root's attributes from the upper
    // layer), so it must look like the release's root — to the jail's ids. chown first: it may clear set-id
    // bits chmod then sets.
    uid_t shift = ids ? static_cast<uid_t>(ids->base) : 0;
    if (!created) {
      uid_t old_shift = had == "host" ? 0 : static_cast<uid_t>(parse_userns(had, dir_path + "/" + kIdsFile).range.base);
      shift_owners(upper.get(), old_shift, shift, dir_path + "/upper");
    }
    if (fchown(upper.get(), release_root.st_uid + shift, release_root.st_gid + shift) < 0 ||
        fchmod(upper.get(), release_root.st_mode & 07777) < 0)
      throw_errno("cannot give " + dir_path + "/upper the mode and owner of the release's root");
    write_ids(out.dir.get(), dir_path + "/" + kIdsFile, want);
  }
  UniqueFd work = make_dir(out.dir.get(), "work", dir_path + "/work", created);
  check_private(work.get(), dir_path + "/work");
  out.upper = open_dir(out.dir.get(), "upper", O_PATH, dir_path + "/upper");
  out.work = open_dir(out.dir.get(), "work", O_PATH, dir_path + "/work");
  return out;
}

void lock_state(const StateDirs& dirs, const std::string& dest, const std::string& release) {
  if (flock(dirs.dir.get(), LOCK_EX | LOCK_NB) == 0) return;
  if (errno != EWOULDBLOCK) throw_errno("cannot lock " + dest + "/" + state_dir_name(release));
  throw Error("the state of release " + release + " (" + dest + "/" + state_dir_name(release) +
              ") is in use by another run of it, and overlayfs does not let two mounts share one upper layer: wait "
              "for that run to end, or start this one with --volatile (its writes forgotten at exit) or --read-only");
}

namespace {

// flock(LOCK_EX) of the overlay's lock within `limit`, polled: false if it is still held then. Only the
// teardown of a previous overlay holds it: usually a few milliseconds (its sync of DEST's filesystem), but as
// long as anything outside the jail keeps a file or directory of that overlay (overlay_holder.cc,
// watch_overlay), which a blocking flock would wait for without a word.
bool lock_within(int fd, const std::string& path, std::chrono::milliseconds limit) {
  auto try_lock = [&] {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
    if (errno != EWOULDBLOCK && errno != EINTR) throw_errno("cannot lock " + path);
    return false;
  };
  if (try_lock()) return true;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  useconds_t pause = 100;
  while (std::chrono::steady_clock::now() < deadline) {
    usleep(pause);
    pause = std::min<useconds_t>(pause * 2, 20000);
    if (try_lock()) return true;
  }
  return false;
}

// run: after a second, says once on stderr what it waits for, then waits on (blocking).
void wait_for_overlay_lock(int fd, const std::string& path, const std::string& release) {
  if (lock_within(fd, path, std::chrono::seconds(1))) return;
  std::fprintf(stderr,
               "droot-exec: waiting for the previous overlay of release %s to be taken down (%s is locked): a "
               "process outside the jail still holds a file or directory of it (through /proc/PID/root or cwd, or "
               "an fd the service passed out)\n",
               release.c_str(), path.c_str());
  while (flock(fd, LOCK_EX) < 0)
    if (errno != EINTR) throw_errno("cannot lock " + path);
}

}  // namespace

UniqueFd lock_state_mount(const StateDirs& dirs, const std::string& dest, const std::string& release) {
  const std::string path = dest + "/" + state_dir_name(release) + "/work";
  // A description of its own (dirs.work is O_PATH, which flock refuses).
  UniqueFd fd(openat(dirs.work.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_errno("cannot open " + path + " to lock it");
  // Only the teardown of the previous run's overlay can hold it now (a live run holds the run lock too, and
  // lock_state refused this run already), and that ends when its superblock is gone.
  wait_for_overlay_lock(fd.get(), path, release);
  return fd;
}

bool state_in_use(int state_dir_fd) {
  // A lock of our own, on a description of our own: flock conflicts between descriptions, even in one process.
  UniqueFd fd(openat(state_dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_errno("cannot open a release's state directory to see whether it is in use");
  if (flock(fd.get(), LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK) return true;
    throw_errno("cannot test the lock of a release's state directory");
  }
  // No run is live, and none can start while this lock is held; a run that just ended may still be taking its
  // overlay down (lock_state_mount): wait for that, a matter of milliseconds, so that the state is not removed
  // under a superblock that is still syncing it.
  UniqueFd work(openat(state_dir_fd, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!work) {
    if (errno == ENOENT) return false;
    throw_errno("cannot open a release's state work directory to see whether it is in use");
  }
  // Still held after a second: something outside keeps that overlay (lock_within); the release stays, the
  // next deploy prunes it.
  return !lock_within(work.get(), "a release's state work directory", std::chrono::seconds(1));
}

}  // namespace droot::exec
