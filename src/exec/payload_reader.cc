#include "payload_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "error.h"

namespace droot::exec {

PayloadReader::PayloadReader(int fd, uint64_t size, std::string name)
    : fd_(fd), size_(size), name_(std::move(name)), buffer_(1 << 20), archive_(archive_read_new()) {
  archive* a = archive_.get();
  if (a == nullptr) throw Error("cannot allocate a libarchive reader");
  // Only what droot-pack writes: fewer parsers exposed to the payload (it is signed, but defence in depth).
  if (archive_read_support_filter_zstd(a) != ARCHIVE_OK || archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
      archive_read_support_filter_none(a) != ARCHIVE_OK || archive_read_support_format_tar(a) != ARCHIVE_OK)
    throw Error("libarchive lacks zstd/gzip/tar support: " + archive_error(a));
  if (archive_read_open(a, this, nullptr, &PayloadReader::on_read, nullptr) != ARCHIVE_OK)
    throw Error(name_ + ": cannot open the payload as a compressed tar: " + archive_error(a));
}

size_t PayloadReader::read_next() {
  size_t want = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), size_ - offset_));
  if (want == 0) return 0;
  ssize_t n;
  do {
    n = ::pread(fd_, buffer_.data(), want, static_cast<off_t>(offset_));
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw_errno("cannot read the payload of " + name_);
  // The file was verified at this size: shorter now means it changed under us.
  if (n == 0) throw Error(name_ + ": the file shrank after it was verified (modified in place?); refusing it");
  sha256_.update(buffer_.data(), static_cast<size_t>(n));
  offset_ += static_cast<uint64_t>(n);
  return static_cast<size_t>(n);
}

la_ssize_t PayloadReader::on_read(archive* a, void* self, const void** buffer) {
  auto* reader = static_cast<PayloadReader*>(self);
  *buffer = reader->buffer_.data();
  // libarchive is C: an exception must not cross it. Report the error through it instead; the message
  // comes back from archive_error_string().
  try {
    return static_cast<la_ssize_t>(reader->read_next());
  } catch (const std::exception& e) {
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
}

std::string PayloadReader::finish() {
  while (read_next() > 0) {
  }
  return to_hex(sha256_.finish());
}

}  // namespace droot::exec
