#include "early_writeback.h"

#include <fcntl.h>

namespace droot::exec {
namespace {
// Bounds the descriptors held open for the thread (deploy raises RLIMIT_NOFILE, but not to infinity).
constexpr size_t kMaxQueued = 256;
}  // namespace

EarlyWriteback::EarlyWriteback() : thread_([this] { loop(); }) {}

EarlyWriteback::~EarlyWriteback() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void EarlyWriteback::hand_over(UniqueFd file) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() >= kMaxQueued) return;  // `file` closes here
    queue_.push_back(std::move(file));
  }
  wake_.notify_one();
}

size_t EarlyWriteback::started() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return started_;
}

void EarlyWriteback::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left: the syncfs that follows does the rest
    UniqueFd file = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    // SYNC_FILE_RANGE_WRITE only queues the dirty pages for I/O and returns; on ext4 it is also where the
    // delayed allocation of the file's blocks happens, work that otherwise all lands in the final syncfs.
    // Errors are not reported here: the syncfs before publishing reports any write error, once.
    bool ok = ::sync_file_range(file.get(), 0, 0, SYNC_FILE_RANGE_WRITE) == 0;
    file.reset();
    lock.lock();
    if (ok) ++started_;
  }
}

}  // namespace droot::exec
