// Writes PAYLOAD (a compressed pax tar) to an fd in one pass, hashing what it writes (BLAKE2b-512 for the
// signature, sha256 for the trusted comment and the sidecar), then the signature trailer.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive_ptr.h"
#include "frame_index.h"
#include "hash.h"
#include "trailer.h"
#include "zstd_stream.h"

namespace droot::pack {

struct CompressionOptions {
  Compression compression = Compression::zstd;
  int level = -1;   // -1: the compressor's default (zstd 3, gzip 6)
  int threads = 0;  // zstd workers; 0: one per core
  int long_window_log = 0;  // zstd long-distance matching over a 2^N-byte window; 0: off
  // zstd without long-distance matching: a new frame at the first entry after this many bytes of tar, the
  // content of every regular file of at least content_frame_bytes in a frame of its own, and a frame index at
  // the end (frame_index.h); frame_bytes 0: one frame, no index. Measured on the bench image (608 MiB of tar):
  // 0.4% more bytes than one frame with content frames from 1 MiB (150 frames), 1.2% from 256 KiB (each
  // frame starts without zstd's window of what came before; binaries side by side compress against each
  // other), 0.1% from 4 MiB; 1 MiB leaves 11% of the bytes outside content frames.
  uint64_t frame_bytes = 8 << 20;
  uint64_t content_frame_bytes = 1 << 20;
};

// How libarchive's pax writer stores a file name or link target (droot-artifact(5), "File names"):
//   ascii   in the ustar header when it fits (<= 100 bytes, or splittable at a '/' into 155 + 100), else a pax
//           `path`/`linkpath` record;
//   utf8    valid UTF-8 with a non-ASCII byte: a pax `path`/`linkpath` record, as POSIX says (UTF-8);
//   binary  not valid UTF-8 (Latin-1 bytes, ...): a pax record too, plus `hdrcharset=BINARY` for that entry only,
//           which tells readers not to convert the bytes;
//   surrogate  contains a UTF-16 surrogate encoded like UTF-8 (bytes ED A0..ED BF, "CESU-8"): libarchive's UTF-8
//           check recombines a pair of them into one 4-byte character instead of refusing the name, so the
//           bytes would change; write_header() refuses such a name.
enum class NameEncoding { ascii, utf8, binary, surrogate };
NameEncoding classify_name(std::string_view name);

struct PayloadDigests {
  std::vector<uint8_t> blake2b512;
  std::string sha256;
  uint64_t size = 0;
};

class ArtifactWriter {
 public:
  ArtifactWriter(int out_fd, std::string out_name, const CompressionOptions& options);
  ~ArtifactWriter();
  ArtifactWriter(const ArtifactWriter&) = delete;
  ArtifactWriter& operator=(const ArtifactWriter&) = delete;

  // A small regular file written from memory (config.json, .drootenv), root-owned, mode 0644.
  void add_text_file(const std::string& path, std::string_view content, int64_t mtime);
  // A regular file whose content is read from `fd` (the manifest spool), root-owned, mode 0644.
  void add_file_from_fd(const std::string& path, int fd, uint64_t size, int64_t mtime);
  // An entry as prepared by the caller; for a regular file follow with write_data() calls. Names and link
  // targets are written byte-exact whatever their encoding (see NameEncoding), or refused.
  void write_header(archive_entry* entry) { write_header(entry, false, true); }
  // The sha256 (hex) of the regular file whose content was just written: the key of its content frame, if it
  // got one. Call it after the content of every regular file.
  void content_written(const std::string& sha256_hex);
  void write_data(const void* data, size_t size);
  // Ends the tar and the compressed stream (and, when framed, appends the frame index); returns the payload's
  // digests.
  PayloadDigests finish_payload();
  // Appends bytes after the payload (the trailer); they count for the whole-file sha256 only.
  void append_raw(std::string_view bytes);
  std::string file_sha256();
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  static la_ssize_t on_write(archive*, void* self, const void* buf, size_t size);
  void sink(const void* buf, size_t size);  // compressed bytes: hashed and written out
  void compress(const char* buf, size_t size);  // tar bytes into zstd, ending frames at the recorded boundaries
  // `new_frame`: the entry starts a zstd frame whatever the current frame's size (the file lists at the end);
  // `content_frame`: a large regular file's content may get a frame of its own (not droot's metadata).
  void write_header(archive_entry* entry, bool new_frame, bool content_frame);
  void start_entry(bool new_frame);            // records a frame boundary before the next header if one is due
  void start_content_frame(archive_entry* entry);  // after a large file's header: its content gets a frame
  void close_frame(uint64_t offset, uint64_t entries, std::optional<ContentKey> content);
  void end_frame();

  int fd_;
  std::string name_;
  std::unique_ptr<ZstdStream> zstd_;  // set for zstd; libarchive then writes a plain tar into it
  Digest blake_ = Digest::blake2b512();
  Digest sha_ = Digest::sha256();
  uint64_t bytes_written_ = 0;
  bool payload_done_ = false;
  bool abandoned_ = false;  // destroyed before finish_payload(): libarchive's last writes are dropped
  // Framing (zstd only). Boundaries are decided when a header is written, as tar offsets, and applied when
  // libarchive's buffered output reaches them.
  uint64_t frame_bytes_ = 0;           // 0: one frame, no index
  uint64_t tar_in_ = 0;                // tar bytes handed to zstd so far
  uint64_t frame_start_ = 0;           // tar offset where the current (logical) frame starts
  uint64_t frame_entries_ = 0;         // entries whose header starts in it
  uint64_t frame_out_start_ = 0;       // bytes_written_ when the current zstd frame started
  std::deque<uint64_t> boundaries_;    // tar offsets where zstd has yet to end a frame
  std::vector<FrameInfo> frames_;      // every frame decided; `compressed` is set once zstd ended it
  size_t frames_ended_ = 0;
  uint64_t content_frame_bytes_ = 0;
  std::optional<ContentKey> content_;  // the open frame is this file's content
  size_t content_frames_ = 0;
  // Last, so it goes first: freeing it may still call on_write(), which uses everything above.
  ArchiveWriter archive_;
};

}  // namespace droot::pack
