#include "decompressor.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "error.h"

namespace droot::exec {

// kQueuedChunks waiting, plus the consumer's and the one being filled: ReadAhead counts them all.
Decompressor::Decompressor(int fd, uint64_t size, std::string name)
    : fd_(fd), size_(size), name_(std::move(name)), compressed_(kChunkSize),
      ahead_([this](char* buf, size_t n) { return produce(buf, n); }, kChunkSize, kQueuedChunks + 2) {}

size_t Decompressor::produce(char* buf, size_t n) {
  // Every error reaches the consumer as a droot::Error with its message, whatever was thrown.
  try {
    if (!archive_) open();
    archive* a = archive_.get();
    size_t size = 0;
    while (size < n) {
      la_ssize_t got = archive_read_data(a, buf + size, n - size);
      if (got < 0) fail("corrupt payload");
      if (got == 0) break;
      size += static_cast<size_t>(got);
    }
    if (size > 0) return size;
    // Whatever follows the compressed stream up to the payload's end is hashed too: the verified sha256
    // covers every byte of [0, size).
    while (read_compressed() > 0) {
    }
    sha256_hex_ = to_hex(sha256_.finish());
    archive_.reset();  // the decoder's memory is not needed while the tar parser finishes
    return 0;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(e.what());
  } catch (...) {
    throw Error(name_ + ": unknown error while decompressing the payload");
  }
}

void Decompressor::open() {
  archive_.reset(archive_read_new());
  archive* a = archive_.get();
  if (a == nullptr) throw Error("cannot allocate a libarchive reader");
  // Only the compressions droot-pack writes (fewer decoders exposed to the payload; it is signed, but
  // defence in depth). The "raw" format hands the decompressed bytes over untouched: the tar parser is on
  // the other side of the queue.
  if (archive_read_support_filter_zstd(a) != ARCHIVE_OK || archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
      archive_read_support_filter_none(a) != ARCHIVE_OK || archive_read_support_format_raw(a) != ARCHIVE_OK)
    throw Error("libarchive lacks zstd/gzip support: " + archive_error(a));
  if (archive_read_open(a, this, nullptr, &Decompressor::on_read, nullptr) != ARCHIVE_OK)
    fail("cannot open the payload as a compressed stream");
  archive_entry* entry = nullptr;
  int rc = archive_read_next_header(a, &entry);
  if (rc == ARCHIVE_EOF) throw Error(name_ + ": the payload is empty");
  if (rc < ARCHIVE_WARN) fail("corrupt payload");
}

void Decompressor::fail(const std::string& what) {
  // A read error (the file shrank, EIO) is the root cause; libarchive's wording around it is noise.
  throw Error(!read_error_.empty() ? read_error_ : name_ + ": " + what + ": " + archive_error(archive_.get()));
}

size_t Decompressor::read_compressed() {
  size_t want = static_cast<size_t>(std::min<uint64_t>(compressed_.size(), size_ - offset_));
  if (want == 0) return 0;
  ssize_t n;
  do {
    n = ::pread(fd_, compressed_.data(), want, static_cast<off_t>(offset_));
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw_errno("cannot read the payload of " + name_);
  // The file was verified at this size: shorter now means it changed under us.
  if (n == 0) throw Error(name_ + ": the file shrank after it was verified (modified in place?); refusing it");
  sha256_.update(compressed_.data(), static_cast<size_t>(n));
  offset_ += static_cast<uint64_t>(n);
  return static_cast<size_t>(n);
}

la_ssize_t Decompressor::on_read(archive* a, void* self, const void** buffer) {
  auto* d = static_cast<Decompressor*>(self);
  *buffer = d->compressed_.data();
  // libarchive is C: an exception must not cross it. Report the error through it, and keep the message.
  try {
    return static_cast<la_ssize_t>(d->read_compressed());
  } catch (const std::exception& e) {
    d->read_error_ = e.what();
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
}

std::string Decompressor::finish() {
  // The end is handed over only after the thread hashed the last compressed byte (produce()).
  while (!next().empty()) {
  }
  return sha256_hex_;
}

}  // namespace droot::exec
