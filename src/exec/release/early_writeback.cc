#include "early_writeback.h"

#include <fcntl.h>
#include <unistd.h>

namespace droot::exec {
namespace {
// Bounds the descriptors held open for the thread (deploy raises RLIMIT_NOFILE, but not to infinity).
constexpr size_t kMaxQueued = 256;
// What a small file leaves dirty: its data in whole pages, and its share of an inode table block.
constexpr uint64_t kPage = 4096;
constexpr uint64_t kInodeShare = 256;
}  // namespace

EarlyWriteback::EarlyWriteback(int filesystem, uint64_t small_bytes_per_sync)
    : filesystem_(filesystem), small_bytes_per_sync_(small_bytes_per_sync), thread_([this] { loop(); }) {}

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

void EarlyWriteback::small_file(uint64_t size) {
  if (filesystem_ < 0 || small_bytes_per_sync_ == 0) return;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    small_bytes_ += (size + kPage - 1) / kPage * kPage + kInodeShare;
    wake = small_bytes_due_locked();
  }
  if (wake) wake_.notify_one();
}

bool EarlyWriteback::small_bytes_due_locked() const {
  return small_bytes_per_sync_ != 0 && small_bytes_ >= small_bytes_per_sync_;
}

size_t EarlyWriteback::syncs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return syncs_;
}

size_t EarlyWriteback::started() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return started_;
}

void EarlyWriteback::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || small_bytes_due_locked(); });
    if (!stopping_ && small_bytes_due_locked()) {
      small_bytes_ = 0;
      lock.unlock();
      // The kernel starts writing dirty pages in the background only past dirty_background_ratio of memory
      // (10%: gigabytes on a server), so a tree of tiny files would otherwise all be written by the final
      // syncfs, with the CPU idle. This syncfs runs while extraction goes on; the final one then finds most
      // of it done. Its cost: directory and inode table blocks still being filled are written more than once,
      // and whatever else is dirty on that filesystem is written now rather than at the final syncfs (which
      // writes it anyway). Errors are left to the final syncfs, which reports them.
      bool ok = ::syncfs(filesystem_) == 0;
      lock.lock();
      if (ok) ++syncs_;
      continue;
    }
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
