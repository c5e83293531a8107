// One regular file's content, held until the packer knows whether the artifact ships it: a delta decides by
// the content's sha256, known only once all of it has been read, and the tar header must not be written
// before. Up to `memory_limit` bytes stay in memory, the rest goes to an unnamed temp file in $TMPDIR, reused
// (and truncated) from one file to the next: memory is bounded whatever the file's size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fd.h"

namespace droot::pack {

class ContentSpool {
 public:
  static constexpr size_t kDefaultMemoryLimit = 1 << 20;

  explicit ContentSpool(size_t memory_limit = kDefaultMemoryLimit) : limit_(memory_limit) {}
  ContentSpool(const ContentSpool&) = delete;
  ContentSpool& operator=(const ContentSpool&) = delete;

  // Empties it for the next file (the temp file, if any, is truncated and kept).
  void clear();
  void append(const void* data, size_t size);
  uint64_t size() const { return memory_.size() + file_size_; }
  bool spilled() const { return file_size_ > 0; }  // part of it is in the temp file
  // Hands the content to `sink` in order, in chunks of at most 256 KiB from the file.
  void replay(const std::function<void(const void*, size_t)>& sink) const;

 private:
  size_t limit_;
  std::vector<char> memory_;  // the first min(size, limit_) bytes
  UniqueFd file_;             // the rest, created on first need
  uint64_t file_size_ = 0;
};

}  // namespace droot::pack
