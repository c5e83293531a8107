#include "background_digest.h"

namespace droot {

BackgroundDigest::BackgroundDigest(Digest digest) : digest_(std::move(digest)), thread_([this] { loop(); }) {}

BackgroundDigest::~BackgroundDigest() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void BackgroundDigest::wait_idle(std::unique_lock<std::mutex>& lock) {
  changed_.wait(lock, [this] { return !busy_; });
  if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
}

void BackgroundDigest::update(const void* data, size_t size) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    wait_idle(lock);
    data_ = data;
    size_ = size;
    busy_ = true;
  }
  changed_.notify_all();
}

std::vector<uint8_t> BackgroundDigest::finish() {
  std::unique_lock<std::mutex> lock(mutex_);
  wait_idle(lock);
  return digest_.finish();
}

void BackgroundDigest::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return busy_ || stopping_; });
    if (!busy_) return;
    lock.unlock();
    std::exception_ptr failure;
    try {
      digest_.update(data_, size_);
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    failure_ = failure;
    busy_ = false;
    changed_.notify_all();
  }
}

}  // namespace droot
