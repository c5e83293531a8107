// Starts the kernel's writeback of each finished file on a thread of its own while extraction goes on, so
// the syncfs before a release is published waits for I/O that is mostly done instead of starting all of it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>

#include "fd.h"

namespace droot::exec {

class EarlyWriteback {
 public:
  EarlyWriteback();
  ~EarlyWriteback();
  EarlyWriteback(const EarlyWriteback&) = delete;
  EarlyWriteback& operator=(const EarlyWriteback&) = delete;

  // Takes a finished file (all data written). Never blocks: when the thread is behind, the file is closed
  // here and left to the final syncfs.
  void hand_over(UniqueFd file);
  // How many files had their writeback started (for tests).
  size_t started() const;

 private:
  void loop();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<UniqueFd> queue_;
  size_t started_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace droot::exec
