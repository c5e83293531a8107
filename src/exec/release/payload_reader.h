// The payload as the tar parser sees it: decompressed on a second thread (decompressor.h) from the very fd
// that was verified, and hashed again on the way in. The file could be rewritten in place between
// verification and extraction (a second writer, a shared mount): "read once, verify what was read" means
// the sha256 of the bytes actually handed to the decompressor is compared with the verified one before the
// release is allowed to go live.
#pragma once

#include <archive.h>

#include <cstdint>
#include <string>

#include "archive_ptr.h"
#include "decompressor.h"

namespace droot::exec {

class PayloadReader {
 public:
  // Reads bytes [0, size) of `fd` (the trailer is never fed to libarchive). `name` is for errors.
  PayloadReader(int fd, uint64_t size, std::string name);
  PayloadReader(const PayloadReader&) = delete;  // libarchive holds `this`
  PayloadReader& operator=(const PayloadReader&) = delete;

  archive* get() const { return archive_.get(); }
  // Reads whatever libarchive did not ask for (padding after the tar's end marker) and returns the sha256
  // (hex) of exactly the compressed bytes [0, size) that were read.
  std::string finish() { return decompressor_.finish(); }

 private:
  static la_ssize_t on_read(archive*, void* self, const void** buffer);

  std::string name_;
  Decompressor decompressor_;  // declared before archive_: the tar reader goes first
  ArchiveReader archive_;
};

}  // namespace droot::exec
