// The payload as libarchive sees it, read from the very fd that was verified and hashed again on the way in.
// The file could be rewritten in place between verification and extraction (a second writer, a shared
// mount): "read once, verify what was read" means the sha256 of the bytes actually handed to the decompressor
// is compared with the verified one before the release is allowed to go live.
#pragma once

#include <archive.h>

#include <cstdint>
#include <string>
#include <vector>

#include "archive_ptr.h"
#include "hash.h"

namespace droot::exec {

class PayloadReader {
 public:
  // Reads bytes [0, size) of `fd` (the trailer is never fed to libarchive). `name` is for errors.
  PayloadReader(int fd, uint64_t size, std::string name);
  PayloadReader(const PayloadReader&) = delete;  // libarchive holds `this`
  PayloadReader& operator=(const PayloadReader&) = delete;

  archive* get() const { return archive_.get(); }
  // Feeds whatever libarchive did not ask for (padding after the tar's end marker) through the hash and
  // returns the sha256 (hex) of exactly the bytes [0, size) that were read.
  std::string finish();

 private:
  static la_ssize_t on_read(archive*, void* self, const void** buffer);
  size_t read_next();

  int fd_;
  uint64_t size_;
  std::string name_;
  uint64_t offset_ = 0;
  std::vector<char> buffer_;
  Digest sha256_ = Digest::sha256();
  ArchiveReader archive_;
};

}  // namespace droot::exec
