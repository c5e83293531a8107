#include "dir_names.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "error.h"

namespace droot::exec {

std::vector<std::string> dir_names(int dir_fd, const std::string& what) {
  // fdopendir takes ownership of its fd and shares the file offset: give it a fresh open of the same dir.
  int copy = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) throw_errno("cannot read directory " + what);
  DIR* d = ::fdopendir(copy);
  if (d == nullptr) {
    int err = errno;
    ::close(copy);
    throw_errno("cannot read directory " + what, err);
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* ent = ::readdir(d)) {
    std::string n = ent->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) throw_errno("cannot read directory " + what, err);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace droot::exec
