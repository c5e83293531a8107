#include "state_changes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "dir_names.h"
#include "error.h"
#include "fd.h"
#include "run_mountpoints.h"

namespace droot::exec {

namespace {

std::string type_of(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "link";
    case S_IFCHR: return "char";
    case S_IFBLK: return "block";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    default: return "unknown";
  }
}

// overlayfs marks a directory made where a deleted one was with this xattr, so that lookups stop at it instead
// of merging the release's directory below.
bool is_opaque(int dir_fd) {
  char value[4];
  ssize_t n = fgetxattr(dir_fd, "trusted.overlay.opaque", value, sizeof value);
  return n == 1 && value[0] == 'y';
}

class Walker {
 public:
  Walker(std::string upper_path, dev_t dev, std::set<std::string> recorded, uint32_t shift)
      : upper_path_(std::move(upper_path)), dev_(dev), shift_(shift), recorded_(std::move(recorded)) {}

  void walk(int upper_dir, int release_dir, const std::string& prefix) {
    for (const std::string& name : dir_names(upper_dir, prefix.empty() ? upper_path_ : upper_path_ + "/" + prefix)) {
      std::string path = prefix.empty() ? name : prefix + "/" + name;
      struct stat st {};
      if (fstatat(upper_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) throw_errno("cannot stat " + upper_path_ + "/" + path);
      struct stat rel {};
      bool in_release = false;
      if (release_dir >= 0) {
        in_release = fstatat(release_dir, name.c_str(), &rel, AT_SYMLINK_NOFOLLOW) == 0;
        if (!in_release && errno != ENOENT) throw_errno("cannot stat " + path + " in the release");
      }
      if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
        add(StateChange::Kind::deleted, path, in_release ? type_of(rel.st_mode) : "", 0);
      } else if (!S_ISDIR(st.st_mode)) {
        if (path == kRunMountpointsFile) continue;  // run's own record of the next case
        if (!in_release && recorded_.count(path) && S_ISREG(st.st_mode) && st.st_size == 0)
          out_.run_mountpoints.push_back(path);
        else
          add(in_release ? StateChange::Kind::modified : StateChange::Kind::added, path, type_of(st.st_mode),
              S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0);
      } else {
        directory(upper_dir, release_dir, name, path, st, in_release ? &rel : nullptr);
      }
    }
  }

  StateChanges done() {
    std::sort(out_.changes.begin(), out_.changes.end(),
              [](const StateChange& a, const StateChange& b) { return a.path < b.path; });
    std::sort(out_.run_mountpoints.begin(), out_.run_mountpoints.end());
    return std::move(out_);
  }

 private:
  void add(StateChange::Kind kind, const std::string& path, const std::string& type, uint64_t size) {
    out_.changes.push_back({kind, path, type, size});
  }

  void directory(int upper_dir, int release_dir, const std::string& name, const std::string& path,
                 const struct stat& st, const struct stat* rel) {
    // Something mounted over the state (by hand) is not what the jail wrote; and it is not followed.
    if (st.st_dev != dev_) throw Error(upper_path_ + "/" + path + " is a mount point: not part of the state");
    UniqueFd child(openat(upper_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child) throw_errno("cannot open " + upper_path_ + "/" + path);
    UniqueFd release_child;
    if (is_opaque(child.get())) {
      add(StateChange::Kind::replaced, path, "dir", 0);
    } else if (!rel || !S_ISDIR(rel->st_mode)) {
      if (!rel && recorded_.count(path) && dir_names(child.get(), upper_path_ + "/" + path).empty())
        out_.run_mountpoints.push_back(path);
      else
        add(rel ? StateChange::Kind::modified : StateChange::Kind::added, path, "dir", 0);
    } else {
      // A parent copied up for a write below keeps the release's mode and owner: only a change of those is one.
      if ((st.st_mode & 07777) != (rel->st_mode & 07777) || st.st_uid - shift_ != rel->st_uid || st.st_gid - shift_ != rel->st_gid)
        add(StateChange::Kind::modified, path, "dir", 0);
      release_child = UniqueFd(openat(release_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!release_child) throw_errno("cannot open " + path + " in the release");
    }
    walk(child.get(), release_child ? release_child.get() : -1, path);
  }

  std::string upper_path_;
  dev_t dev_;
  uint32_t shift_;
  std::set<std::string> recorded_;
  StateChanges out_;
};

}  // namespace

std::string change_name(StateChange::Kind kind) {
  switch (kind) {
    case StateChange::Kind::added: return "added";
    case StateChange::Kind::modified: return "modified";
    case StateChange::Kind::deleted: return "deleted";
    case StateChange::Kind::replaced: return "replaced";
  }
  return "?";
}

StateChanges list_state_changes(int upper_fd, int release_fd, const std::string& upper_path, uint32_t id_shift) {
  struct stat st {};
  if (fstat(upper_fd, &st) < 0) throw_errno("cannot stat " + upper_path);
  Walker w(upper_path, st.st_dev, read_run_mountpoints(upper_fd, upper_path), id_shift);
  w.walk(upper_fd, release_fd, "");
  return w.done();
}

}  // namespace droot::exec
