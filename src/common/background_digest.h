// A Digest fed on a thread of its own: verification hashes the same bytes with BLAKE2b-512 (the signature's)
// and SHA-256 (the checksum's), and on a server with two cores the two need not take turns.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "hash.h"

namespace droot {

class BackgroundDigest {
 public:
  explicit BackgroundDigest(Digest digest);
  ~BackgroundDigest();
  BackgroundDigest(const BackgroundDigest&) = delete;
  BackgroundDigest& operator=(const BackgroundDigest&) = delete;

  // Waits for the previous block, then starts hashing this one and returns. The caller must leave `data`
  // alone until the next update() or finish(): both threads read the very same bytes, which is what ties
  // the two digests to one content even if the file under them changes.
  void update(const void* data, size_t size);
  // Waits for the last block; rethrows what the thread caught.
  std::vector<uint8_t> finish();

 private:
  void wait_idle(std::unique_lock<std::mutex>& lock);
  void loop();

  Digest digest_;
  std::mutex mutex_;
  std::condition_variable changed_;
  const void* data_ = nullptr;
  size_t size_ = 0;
  bool busy_ = false;
  bool stopping_ = false;
  std::exception_ptr failure_;
  std::thread thread_;
};

}  // namespace droot
