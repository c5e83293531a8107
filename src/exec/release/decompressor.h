// The payload's decompression, on its own thread: zstd or gzip runs on one core while the tar parser, the
// per-file sha256 and the writes run on the other — the same split `zstd -dc | tar -x` gets from a pipe.
// The compressed bytes are read from the verified fd and hashed again on the way in ("read once, verify
// what was read": the caller compares that hash with the verified one before the release goes live).
// Memory is bounded: at most kQueuedChunks decompressed chunks wait for the consumer, and their buffers are
// reused rather than allocated (and zeroed, and faulted in) again for every megabyte.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "archive_ptr.h"
#include "hash.h"

namespace droot::exec {

class Decompressor {
 public:
  static constexpr size_t kChunkSize = 1 << 20;
  static constexpr size_t kQueuedChunks = 4;

  // Decompresses bytes [0, size) of `fd` (the trailer is never read). `name` is for errors. The thread
  // starts here; nothing is read before.
  Decompressor(int fd, uint64_t size, std::string name);
  ~Decompressor();  // stops and joins the thread, whatever state it is in
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // The next chunk of decompressed bytes; empty at the end. Valid until the next call. Throws droot::Error
  // with the decompression or read error.
  std::span<const char> next();

  // Waits for the thread to have read and hashed every compressed byte, and returns their sha256 (hex).
  // Decompressed bytes nobody asked for (the tar's zero padding) are discarded.
  std::string finish();

 private:
  void run();
  void decompress();
  size_t read_compressed();
  static la_ssize_t on_read(archive*, void* self, const void** buffer);
  struct Chunk {
    std::unique_ptr<char[]> bytes;  // kChunkSize, uninitialised
    size_t size = 0;
  };
  std::unique_ptr<char[]> take_buffer();
  bool push(Chunk chunk);  // false when stopping

  // Owned by the thread while it runs.
  int fd_;
  uint64_t size_;
  std::string name_;
  uint64_t offset_ = 0;
  std::vector<char> compressed_;
  Digest sha256_ = Digest::sha256();
  std::string read_error_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Chunk> queue_;
  std::vector<std::unique_ptr<char[]>> spare_;  // buffers the consumer is done with
  bool done_ = false;      // the thread has pushed its last chunk (or failed)
  bool stopping_ = false;  // the consumer gave up
  std::string error_;      // set with done_ on failure
  std::string sha256_hex_;  // set with done_ on success

  Chunk current_;  // the consumer's chunk
  std::thread thread_;
};

}  // namespace droot::exec
