// DEST/.droot.lock: an flock(2) held for the whole of a deploy or rollback, so that two of them on the same
// DEST run one after the other. The kernel drops it when the process dies, even by SIGKILL: a stale lock
// file never blocks anyone.
#pragma once

#include <functional>
#include <string>

#include "fd.h"

namespace droot::exec {

class DirLock {
 public:
  // Blocks until the lock is ours; `on_wait` (if set) is told once that another process holds it.
  DirLock(int dest_fd, const std::string& dest, const std::function<void(const std::string&)>& on_wait);

 private:
  UniqueFd fd_;
};

}  // namespace droot::exec
