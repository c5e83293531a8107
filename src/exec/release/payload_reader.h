// The payload as the tar parser sees it: decompressed on a second thread (decompressor.h) from the very fd
// that was verified, and hashed again on the way in. The file could be rewritten in place between
// verification and extraction (a second writer, a shared mount): "read once, verify what was read" means
// the sha256 of the bytes actually handed to the decompressor is compared with the verified one before the
// release is allowed to go live.
//
// With a frame index, a large file's content frame that the store already has is not decoded (decompressor.h):
// the entry loop asks content_frame() at the file's header, links the object, and libarchive's skip of
// the entry's data lands on the skip callback here, which steps over exactly the bytes never produced.
#pragma once

#include <archive.h>

#include <cstdint>
#include <optional>
#include <string>

#include "archive_ptr.h"
#include "decompressor.h"

namespace droot::exec {

class PayloadReader {
 public:
  // Reads bytes [0, size) of `fd` (the trailer is never fed to libarchive). `name` is for errors.
  PayloadReader(int fd, uint64_t size, std::string name, FrameSkipping skipping = {});
  PayloadReader(const PayloadReader&) = delete;  // libarchive holds `this`
  PayloadReader& operator=(const PayloadReader&) = delete;

  archive* get() const { return archive_.get(); }
  // Right after a regular file's header: the content frame of that file, if it has one. If it was skipped,
  // libarchive must skip the data, never read it; if decoded, the caller takes it with take_decoded().
  // libarchive has consumed the header by then: its position is where the data starts.
  std::optional<Skip> content_frame() {
    return decompressor_.content_frame_at(static_cast<uint64_t>(archive_filter_bytes(archive_.get(), 0)));
  }
  void take_decoded() { decompressor_.pop_skip(); }
  // Reads whatever libarchive did not ask for (padding after the tar's end marker) and returns the sha256
  // (hex) of exactly the compressed bytes [0, size) that were read.
  std::string finish() { return decompressor_.finish(); }

 private:
  static la_ssize_t on_read(archive*, void* self, const void** buffer);
  static la_int64_t on_skip(archive*, void* self, la_int64_t request);
  uint64_t position() const { return handed_ + skipped_; }  // the tar offset libarchive has reached

  uint64_t handed_ = 0;   // tar bytes handed to libarchive
  uint64_t skipped_ = 0;  // tar bytes of skipped content frames stepped over
  std::optional<uint64_t> skip_start_;  // a skip libarchive has asked for only in part (> 1 GiB)

  std::string name_;
  Decompressor decompressor_;  // declared before archive_: the tar reader goes first
  ArchiveReader archive_;
};

}  // namespace droot::exec
