// Writes PAYLOAD (a compressed pax tar) to an fd in one pass, hashing what it writes (BLAKE2b-512 for the
// signature, sha256 for the trusted comment and the sidecar), then the signature trailer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "archive_ptr.h"
#include "hash.h"
#include "trailer.h"
#include "zstd_stream.h"

namespace droot::pack {

struct CompressionOptions {
  Compression compression = Compression::zstd;
  int level = -1;   // -1: the compressor's default (zstd 3, gzip 6)
  int threads = 0;  // zstd workers; 0: one per core
  int long_window_log = 0;  // zstd long-distance matching over a 2^N-byte window; 0: off
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
  void write_header(archive_entry* entry);
  void write_data(const void* data, size_t size);
  // Ends the tar and the compressed stream; returns the payload's digests.
  PayloadDigests finish_payload();
  // Appends bytes after the payload (the trailer); they count for the whole-file sha256 only.
  void append_raw(std::string_view bytes);
  std::string file_sha256();
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  static la_ssize_t on_write(archive*, void* self, const void* buf, size_t size);
  void sink(const void* buf, size_t size);  // compressed bytes: hashed and written out

  int fd_;
  std::string name_;
  std::unique_ptr<ZstdStream> zstd_;  // set for zstd; libarchive then writes a plain tar into it
  Digest blake_ = Digest::blake2b512();
  Digest sha_ = Digest::sha256();
  uint64_t bytes_written_ = 0;
  bool payload_done_ = false;
  bool abandoned_ = false;  // destroyed before finish_payload(): libarchive's last writes are dropped
  // Last, so it goes first: freeing it may still call on_write(), which uses everything above.
  ArchiveWriter archive_;
};

}  // namespace droot::pack
