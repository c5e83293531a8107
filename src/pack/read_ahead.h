// Runs a producer of bytes (igzip inflating a layer: gzip_inflater.h) on a thread of its own, a few buffers
// ahead of the reader (the tar parser that flattens the layer and spools its files): on two cores inflating and
// flattening overlap instead of taking turns. Memory: `depth` buffers of `buffer_size` bytes.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace droot::pack {

class ReadAhead {
 public:
  // Fills up to `n` bytes of `buf`; 0 at the end. May throw: next() rethrows it.
  using Produce = std::function<size_t(char* buf, size_t n)>;
  ReadAhead(Produce produce, size_t buffer_size = 128 * 1024, size_t depth = 4);
  ~ReadAhead();  // stops the producer (after the buffer it is filling) and joins it
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The next bytes, valid until the next call; {nullptr, 0} at the end. Rethrows the producer's error.
  std::pair<const char*, size_t> next();

 private:
  void run();

  Produce produce_;
  std::vector<std::vector<char>> bufs_;
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

}  // namespace droot::pack
