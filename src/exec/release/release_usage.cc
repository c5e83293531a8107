#include "release_usage.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <map>
#include <utility>

#include "dir_names.h"
#include "error.h"
#include "fd.h"

namespace droot::exec {
namespace {

struct Seen {
  nlink_t links_here = 0;
  nlink_t links = 0;
  uint64_t size = 0;
};

struct Walk {
  ReleaseUsage usage;
  // Only inodes with more than two links (the store's, this path, and more) need counting; two links are
  // the store's and this one, the common case, decided without memory.
  std::map<std::pair<dev_t, ino_t>, Seen> multi;

  void dir(int fd, const std::string& what) {
    for (const auto& n : dir_names(fd, what)) {
      struct stat st {};
      if (::fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("cannot look at " + what + "/" + n);
      if (S_ISDIR(st.st_mode)) {
        int child = ::openat(fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child < 0) throw_errno("cannot open " + what + "/" + n);
        UniqueFd c(child);
        dir(c.get(), what + "/" + n);
      } else if (S_ISREG(st.st_mode)) {
        // 1 link: a file of its own (metadata, a release made before the store); 2: the store's and this one.
        if (st.st_nlink <= 2) {
          usage.own_bytes += static_cast<uint64_t>(st.st_size);
          continue;
        }
        Seen& seen = multi[{st.st_dev, st.st_ino}];
        ++seen.links_here;
        seen.links = st.st_nlink;
        seen.size = static_cast<uint64_t>(st.st_size);
      }
    }
  }
};

}  // namespace

ReleaseUsage release_usage(int releases_fd, const std::string& name, const std::string& what) {
  int fd = ::openat(releases_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open " + what);
  UniqueFd root(fd);
  Walk walk;
  walk.dir(root.get(), what);
  for (const auto& [inode, seen] : walk.multi)
    (seen.links_here + 1 >= seen.links ? walk.usage.own_bytes : walk.usage.shared_bytes) += seen.size;
  return walk.usage;
}

}  // namespace droot::exec
