#include "state_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "beneath.h"
#include "error.h"

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

StateDirs make_state_dirs(int dest_fd, const std::string& dest, const std::string& release,
                          const struct stat& release_root) {
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
  if (created) {
    // The upper root is what the jail sees as "/" (overlayfs takes the root's attributes from the upper
    // layer), so it must look like the release's root. chown first: it may clear set-id bits chmod then sets.
    if (fchown(upper.get(), release_root.st_uid, release_root.st_gid) < 0 ||
        fchmod(upper.get(), release_root.st_mode & 07777) < 0)
      throw_errno("cannot give " + dir_path + "/upper the mode and owner of the release's root");
  }
  UniqueFd work = make_dir(out.dir.get(), "work", dir_path + "/work", created);
  check_private(work.get(), dir_path + "/work");
  out.upper = open_dir(out.dir.get(), "upper", O_PATH, dir_path + "/upper");
  out.work = open_dir(out.dir.get(), "work", O_PATH, dir_path + "/work");
  return out;
}

StateDirs open_state_dirs(int dest_fd, const std::string& dest, const std::string& release) {
  if (!plain_name(release)) throw Error("'" + release + "' is not a release name");
  const std::string name = state_dir_name(release);
  const std::string dir_path = dest + "/" + name;
  StateDirs out;
  out.dir = open_dir(dest_fd, name, O_RDONLY, dir_path);
  check_private(out.dir.get(), dir_path);
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

bool state_in_use(int state_dir_fd) {
  // A lock of our own, on a description of our own: flock conflicts between descriptions, even in one process.
  UniqueFd fd(openat(state_dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_errno("cannot open a release's state directory to see whether it is in use");
  if (flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return false;
  if (errno == EWOULDBLOCK) return true;
  throw_errno("cannot test the lock of a release's state directory");
}

}  // namespace droot::exec
