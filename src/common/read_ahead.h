// Runs a producer of bytes on a thread of its own, a few buffers ahead of its reader: on two cores producing
// and consuming overlap instead of taking turns. droot-pack inflates gzip layers this way ahead of the tar
// parser that flattens them (layer_flattener.cc); droot-exec decompresses the payload ahead of the tar parser
// that extracts it (decompressor.h). Memory: `depth` buffers of `buffer_size` bytes, allocated once and reused
// (not zeroed: only the bytes produced are ever read).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

namespace droot {

class ReadAhead {
 public:
  // Fills up to `n` bytes of `buf`; 0 at the end. May throw: next() rethrows it. Not called again after
  // either.
  using Produce = std::function<size_t(char* buf, size_t n)>;
  // `depth` counts every buffer: the reader's, the one being filled and those waiting (at least 2).
  ReadAhead(Produce produce, size_t buffer_size, size_t depth);
  ~ReadAhead();  // stops the producer (after the buffer it is filling) and joins it
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The next bytes, a view of the filled buffer itself, valid until the next call; empty at the end.
  // Rethrows the producer's error, once what it produced before it has been read.
  std::span<const char> next();

 private:
  void run();

  Produce produce_;
  const size_t buffer_size_;
  std::vector<std::unique_ptr<char[]>> bufs_;
  std::vector<size_t> sizes_;
  std::mutex m_;
  std::condition_variable cv_;
  size_t head_ = 0;     // the slot the reader holds (held_) or reads next
  bool held_ = false;
  size_t filled_ = 0;   // filled slots after the held one, not read yet
  bool end_ = false;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace droot
