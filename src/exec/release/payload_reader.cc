#include "payload_reader.h"

#include <algorithm>
#include <cerrno>

#include "error.h"

namespace droot::exec {

PayloadReader::PayloadReader(int fd, uint64_t size, std::string name, FrameSkipping skipping)
    : name_(name), decompressor_(fd, size, std::move(name), std::move(skipping)), archive_(archive_read_new()) {
  archive* a = archive_.get();
  if (a == nullptr) throw Error("cannot allocate a libarchive reader");
  // Decompression happened on the other side of the queue: only the tar parser here.
  if (archive_read_support_filter_none(a) != ARCHIVE_OK || archive_read_support_format_tar(a) != ARCHIVE_OK)
    throw Error("libarchive lacks tar support: " + archive_error(a));
  if (archive_read_set_read_callback(a, &PayloadReader::on_read) != ARCHIVE_OK ||
      archive_read_set_skip_callback(a, &PayloadReader::on_skip) != ARCHIVE_OK ||
      archive_read_set_callback_data(a, this) != ARCHIVE_OK || archive_read_open1(a) != ARCHIVE_OK)
    throw Error(name_ + ": cannot open the payload as a tar stream: " + archive_error(a));
}

la_ssize_t PayloadReader::on_read(archive* a, void* self, const void** buffer) {
  auto* reader = static_cast<PayloadReader*>(self);
  // libarchive is C: an exception must not cross it. Report the error through it instead; the message
  // comes back from archive_error_string().
  try {
    // Only a file's data lies where a content frame was skipped, and that is skipped, never read: a read here
    // means the archive's entries do not fall where the index says (caught at the header, normally).
    const std::optional<Skip> next = reader->decompressor_.next_content_frame();
    if (reader->skip_start_ || (next && !next->decoded && next->tar_offset == reader->position()))
      throw Error(reader->name_ + ": the payload does not match its frame index (tar bytes read at offset " +
                  std::to_string(reader->position()) + ", where the index has a file's content)");
    std::span<const char> chunk = reader->decompressor_.next();
    reader->handed_ += chunk.size();
    *buffer = chunk.data();
    return static_cast<la_ssize_t>(chunk.size());
  } catch (const std::exception& e) {
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
}

la_int64_t PayloadReader::on_skip(archive*, void* self, la_int64_t request) {
  auto* reader = static_cast<PayloadReader*>(self);
  // libarchive asks to skip only what it does not hold (every chunk ends at a frame's end), and may ask in
  // pieces (at most 1 GiB each): the skip under way, else one that starts here. Anywhere else nothing is
  // skipped, and libarchive reads instead.
  const uint64_t start = reader->skip_start_.value_or(reader->position());
  const std::optional<Skip> skip = reader->decompressor_.next_content_frame();
  if (!skip || skip->decoded || skip->tar_offset != start || request <= 0) return 0;
  const uint64_t end = skip->tar_offset + skip->tar_bytes;
  const uint64_t take = std::min<uint64_t>(static_cast<uint64_t>(request), end - reader->position());
  reader->skip_start_ = start;
  reader->skipped_ += take;
  if (reader->position() == end) {
    reader->decompressor_.pop_skip();
    reader->skip_start_.reset();
  }
  return static_cast<la_int64_t>(take);
}

}  // namespace droot::exec
