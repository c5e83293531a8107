#include "dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

#include "error.h"

namespace droot::exec {

DirLock::DirLock(int dest_fd, const std::string& dest, const std::function<void(const std::string&)>& on_wait) {
  const std::string path = dest + "/.droot.lock";
  // O_NOFOLLOW: a symlink planted under that name must not make us create or truncate a file elsewhere.
  int fd = ::openat(dest_fd, ".droot.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EROFS)
    throw Error("cannot open the lock file " + path + ": " + errno_text(EROFS) + " (" + dest +
                " is on a read-only filesystem: deploy and rollback write there, list, check and run only read)");
  if (fd < 0) throw_errno("cannot open the lock file " + path);
  fd_.reset(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return;
  if (errno != EWOULDBLOCK) throw_errno("cannot lock " + path);
  if (on_wait) on_wait("waiting for another deploy or rollback of " + dest + " to finish (lock " + path + ")");
  while (::flock(fd, LOCK_EX) != 0)
    if (errno != EINTR) throw_errno("cannot lock " + path);
}

}  // namespace droot::exec
