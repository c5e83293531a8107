#include "payload_reader.h"

#include <cerrno>

#include "error.h"

namespace droot::exec {

PayloadReader::PayloadReader(int fd, uint64_t size, std::string name)
    : name_(name), decompressor_(fd, size, std::move(name)), archive_(archive_read_new()) {
  archive* a = archive_.get();
  if (a == nullptr) throw Error("cannot allocate a libarchive reader");
  // Decompression happened on the other side of the queue: only the tar parser here.
  if (archive_read_support_filter_none(a) != ARCHIVE_OK || archive_read_support_format_tar(a) != ARCHIVE_OK)
    throw Error("libarchive lacks tar support: " + archive_error(a));
  if (archive_read_open(a, this, nullptr, &PayloadReader::on_read, nullptr) != ARCHIVE_OK)
    throw Error(name_ + ": cannot open the payload as a tar stream: " + archive_error(a));
}

la_ssize_t PayloadReader::on_read(archive* a, void* self, const void** buffer) {
  auto* reader = static_cast<PayloadReader*>(self);
  // libarchive is C: an exception must not cross it. Report the error through it instead; the message
  // comes back from archive_error_string().
  try {
    std::span<const char> chunk = reader->decompressor_.next();
    *buffer = chunk.data();
    return static_cast<la_ssize_t>(chunk.size());
  } catch (const std::exception& e) {
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
}

}  // namespace droot::exec
