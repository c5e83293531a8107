#include "read_ahead.h"

#include <utility>

namespace droot {

ReadAhead::ReadAhead(Produce produce, size_t buffer_size, size_t depth)
    : produce_(std::move(produce)), buffer_size_(buffer_size), sizes_(depth < 2 ? 2 : depth) {
  // Uninitialised: zeroing would fault in every page up front, for bytes the producer overwrites anyway.
  for (size_t i = 0; i < sizes_.size(); ++i) bufs_.push_back(std::make_unique_for_overwrite<char[]>(buffer_size_));
  thread_ = std::thread([this] { run(); });
}

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
      n = produce_(bufs_[slot].get(), buffer_size_);
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

std::span<const char> ReadAhead::next() {
  std::unique_lock<std::mutex> lock(m_);
  if (held_) {  // the previous buffer is no longer the reader's: the producer may refill it
    head_ = (head_ + 1) % bufs_.size();
    held_ = false;
    cv_.notify_all();
  }
  cv_.wait(lock, [&] { return filled_ > 0 || end_ || error_; });
  if (filled_ > 0) {  // what was produced before an error or the end is read first
    held_ = true;
    --filled_;
    return {bufs_[head_].get(), sizes_[head_]};
  }
  if (error_) std::rethrow_exception(error_);
  return {};
}

}  // namespace droot
