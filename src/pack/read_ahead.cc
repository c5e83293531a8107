#include "read_ahead.h"

namespace droot::pack {

ReadAhead::ReadAhead(Produce produce, size_t buffer_size, size_t depth)
    : produce_(std::move(produce)), bufs_(depth < 2 ? 2 : depth, std::vector<char>(buffer_size)), sizes_(bufs_.size()),
      thread_([this] { run(); }) {}

ReadAhead::~ReadAhead() {
  {
    std::lock_guard<std::mutex> lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ReadAhead::run() {
  for (;;) {
    size_t slot;
    {
      std::unique_lock<std::mutex> lock(m_);
      // The first free slot: the reader's slots (held, then filled) never move under the producer's feet.
      cv_.wait(lock, [&] { return stop_ || (held_ ? 1 : 0) + filled_ < bufs_.size(); });
      if (stop_) return;
      slot = (head_ + (held_ ? 1 : 0) + filled_) % bufs_.size();
    }
    size_t n = 0;
    std::exception_ptr error;
    try {
      n = produce_(bufs_[slot].data(), bufs_[slot].size());
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(m_);
      if (error) error_ = error;
      else if (n == 0) end_ = true;
      else {
        sizes_[slot] = n;
        ++filled_;
      }
    }
    cv_.notify_all();
    if (error || n == 0) return;
  }
}

std::pair<const char*, size_t> ReadAhead::next() {
  std::unique_lock<std::mutex> lock(m_);
  if (held_) {
    head_ = (head_ + 1) % bufs_.size();
    held_ = false;
    cv_.notify_all();
  }
  cv_.wait(lock, [&] { return filled_ > 0 || end_ || error_; });
  if (filled_ > 0) {  // what was produced before an error or the end is read first
    held_ = true;
    --filled_;
    return {bufs_[head_].data(), sizes_[head_]};
  }
  if (error_) std::rethrow_exception(error_);
  return {nullptr, 0};
}

}  // namespace droot::pack
