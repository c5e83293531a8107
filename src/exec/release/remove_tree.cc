#include "remove_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "dir_names.h"
#include "error.h"
#include "fd.h"

namespace droot::exec {
namespace {

void remove_node(int parent_fd, const std::string& name, const std::string& what, dev_t device) {
  struct stat st {};
  if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw_errno("cannot stat " + what);
  }
  if (S_ISDIR(st.st_mode)) {
    // Another filesystem mounted inside (say a bind mount left by a crashed `run`): emptying it would
    // delete data that is not ours.
    if (device != 0 && st.st_dev != device) throw Error("cannot remove " + what + ": a filesystem is mounted there");
    int fd = ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) throw_errno("cannot open directory " + what);
    UniqueFd dir(fd);
    for (const std::string& child : dir_names(dir.get(), what))
      remove_node(dir.get(), child, what + "/" + child, st.st_dev);
  }
  if (::unlinkat(parent_fd, name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT)
    throw_errno("cannot remove " + what);
}

}  // namespace

void remove_tree(int parent_fd, const std::string& name, const std::string& what) {
  remove_node(parent_fd, name, what, 0);
}

}  // namespace droot::exec
