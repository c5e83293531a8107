// The payload's decompression, on its own thread: zstd or gzip runs on one core while the tar parser, the
// per-file sha256 and the writes run on the other — the same split `zstd -dc | tar -x` gets from a pipe.
// The compressed bytes are read from the verified fd and hashed again on the way in ("read once, verify
// what was read": the caller compares that hash with the verified one before the release goes live).
// Memory is bounded: at most kQueuedChunks decompressed chunks wait for the consumer, and their buffers are
// reused rather than allocated (and zeroed, and faulted in) again for every megabyte (read_ahead.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "archive_ptr.h"
#include "hash.h"
#include "read_ahead.h"

namespace droot::exec {

class Decompressor {
 public:
  static constexpr size_t kChunkSize = 1 << 20;
  static constexpr size_t kQueuedChunks = 4;

  // Decompresses bytes [0, size) of `fd` (the trailer is never read). `name` is for errors. The thread
  // starts here; nothing is read before.
  Decompressor(int fd, uint64_t size, std::string name);
  ~Decompressor() = default;  // ahead_ stops and joins the thread, whatever state it is in
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // The next chunk of decompressed bytes; empty at the end. Valid until the next call. Throws droot::Error
  // with the decompression or read error.
  std::span<const char> next() { return ahead_.next(); }

  // Waits for the thread to have read and hashed every compressed byte, and returns their sha256 (hex).
  // Decompressed bytes nobody asked for (the tar's zero padding) are discarded.
  std::string finish();

 private:
  size_t produce(char* buf, size_t n);
  void open();
  [[noreturn]] void fail(const std::string& what);  // the read error if there was one, else libarchive's
  size_t read_compressed();
  static la_ssize_t on_read(archive*, void* self, const void** buffer);

  // The thread's alone (through produce()); finish() reads sha256_hex_ once the end was handed over.
  int fd_;
  uint64_t size_;
  std::string name_;
  uint64_t offset_ = 0;
  std::vector<char> compressed_;
  Digest sha256_ = Digest::sha256();
  std::string read_error_;
  ArchiveReader archive_;   // open from the first produce() to the end of the stream
  std::string sha256_hex_;  // set at the end of the stream

  ReadAhead ahead_;  // last: its thread runs produce() on everything above, and is joined before it goes
};

}  // namespace droot::exec
