// The payload's decompression, on its own thread: zstd or gzip runs on one core while the tar parser, the
// per-file sha256 and the writes run on the other — the same split `zstd -dc | tar -x` gets from a pipe.
// The compressed bytes are read from the verified fd and hashed again on the way in ("read once, verify
// what was read": the caller compares that hash with the verified one before the release goes live).
// Memory is bounded: at most kQueuedChunks decompressed chunks wait for the consumer, and their buffers are
// reused rather than allocated (and zeroed, and faulted in) again for every megabyte (read_ahead.h).
//
// The decompression thread is a deploy's critical path on two cores (perf of a deploy of the bench image:
// ~half of all CPU time, against ~a third for the tar parser, per-file hashes and writes). So a zstd payload
// (what droot-pack writes by default) is decoded by libzstd itself, straight into the queue's buffers — not
// through libarchive, which decodes into its own buffer and copies — and without zstd's own XXH64 check of
// each frame, which can add nothing to the SHA-256 of the very same compressed bytes that was verified before
// and is checked again after; and that SHA-256 runs on a thread of its own (BackgroundDigest) over the block
// just read while this one decodes it. gzip and uncompressed payloads go through libarchive as before.
//
// With a frame index (frame_index.h) the payload is decoded frame by frame, each exactly as long as the index
// says (anything else is an error), and a *content frame* whose object the store already has is not decoded
// at all: its compressed bytes are still read and hashed, but no tar bytes come out for it. The decision is
// made before any byte of the frame in front of it is handed over, and recorded as a Skip; the tar parser's
// side (payload_reader.h) asks for it when it meets the file's header and lets libarchive skip exactly those
// bytes. Every chunk handed over ends at a frame's end, so libarchive never holds bytes past a skipped frame.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <zstd.h>

#include <memory>

#include "archive_ptr.h"
#include "background_digest.h"
#include "frame_index.h"
#include "read_ahead.h"

namespace droot::exec {

// A content frame: the tar bytes [tar_offset, tar_offset + tar_bytes) of its file's content, and whether it
// is decoded (the tar parser checks the file against the key) or skipped (the file is linked from the store).
struct Skip {
  uint64_t tar_offset = 0;
  uint64_t tar_bytes = 0;
  ContentKey key;
  bool decoded = false;
};

struct FrameSkipping {
  const FrameIndex* index = nullptr;  // the verified payload's; nullptr: decode it as one stream
  // Whether the store already holds the object of this content frame's file; called on the decompression
  // thread. Unset: every frame is decoded (frame by frame, still checked against the index).
  std::function<bool(const ContentKey&)> stored;
};

class Decompressor {
 public:
  static constexpr size_t kChunkSize = 1 << 20;
  static constexpr size_t kQueuedChunks = 4;

  // Decompresses bytes [0, size) of `fd` (the trailer is never read). `name` is for errors. The thread
  // starts here; nothing is read before.
  Decompressor(int fd, uint64_t size, std::string name, FrameSkipping skipping = {});
  ~Decompressor() = default;  // ahead_ stops and joins the thread, whatever state it is in
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // The next chunk of decompressed bytes; empty at the end. Valid until the next call. Throws droot::Error
  // with the decompression or read error.
  std::span<const char> next() { return ahead_.next(); }

  // The content frame whose data starts at tar offset `tar_offset` (where a file's header ended), decoded or
  // skipped: the thread has always decided by the time the bytes in front of it were handed over. A content
  // frame before `tar_offset` that nobody took is an error (it was no file's content). pop_skip() removes it.
  std::optional<Skip> content_frame_at(uint64_t tar_offset);
  // The next content frame, whatever its offset.
  std::optional<Skip> next_content_frame();
  void pop_skip();

  // Waits for the thread to have read and hashed every compressed byte, and returns their sha256 (hex). A
  // content frame nobody took is an error.
  // Decompressed bytes nobody asked for (the tar's zero padding) are discarded.
  std::string finish();

 private:
  struct FreeDCtx {
    void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
  };

  size_t produce(char* buf, size_t n);
  size_t produce_zstd(char* buf, size_t n);
  size_t produce_archive(char* buf, size_t n);
  size_t produce_frames(char* buf, size_t n);  // zstd with a frame index
  void next_frame(size_t j, uint64_t tar_offset);  // skips what was decided, starts the next frame to decode
  // Decides frames j, j+1, … (j starting at `tar_offset`) while they are content frames the store has.
  void plan_skips(size_t j, uint64_t tar_offset);
  void skip_compressed(uint64_t bytes);        // reads (and hashes) bytes of the payload without decoding them
  [[noreturn]] void index_mismatch(const std::string& what) const;
  size_t end_of_stream();  // hashes what is left of [0, size) and returns 0
  void open();
  void open_archive();
  [[noreturn]] void fail(const std::string& what);  // the read error if there was one, else libarchive's
  // Reads the next block of [0, size) into the other of the two buffers and starts hashing it; returns its size.
  size_t read_compressed();
  static la_ssize_t on_read(archive*, void* self, const void** buffer);

  // The thread's alone (through produce()); finish() reads sha256_hex_ once the end was handed over.
  int fd_;
  uint64_t size_;
  std::string name_;
  uint64_t offset_ = 0;
  // Two: the digest thread hashes one while the other is read into and decoded (background_digest.h).
  std::vector<char> compressed_[2];
  int current_ = 1;                // the buffer read last
  size_t first_block_ = 0;         // read by open() to tell zstd from the rest; libarchive's first block
  bool opened_ = false;
  std::string read_error_;
  std::unique_ptr<ZSTD_DCtx, FreeDCtx> zstd_;  // a zstd payload, from open() to the end of the stream
  ZSTD_inBuffer in_{};                         // the part of the current block zstd has not consumed
  bool frame_complete_ = false;                // zstd's last call ended a frame
  // With a frame index: the frame being decoded, its compressed bytes not given to zstd yet, the tar bytes it
  // has produced, and the tar offset where it starts.
  FrameSkipping skipping_;
  size_t frame_ = 0;
  uint64_t frame_in_left_ = 0;
  uint64_t frame_out_ = 0;
  uint64_t frame_tar_start_ = 0;
  bool frame_done_ = false;        // frame_ ended in the chunk handed over last
  std::vector<bool> skipped_;      // per frame: not decoded (set by plan_skips)
  std::mutex skips_m_;
  std::deque<Skip> skips_;         // decided, not yet taken by the tar parser's side
  ArchiveReader archive_;   // any other payload, from open() to the end of the stream
  std::string sha256_hex_;  // set at the end of the stream
  BackgroundDigest sha256_; // before ahead_: produce() feeds it until the end

  ReadAhead ahead_;  // last: its thread runs produce() on everything above, and is joined before it goes
};

}  // namespace droot::exec
