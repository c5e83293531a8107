#include "decompressor.h"

#include <unistd.h>
// Again, for ZSTD_d_forceIgnoreChecksum (in libzstd's "experimental" section until 1.5.6; libzstd is
// built for it to be included a second time this way).
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "error.h"

namespace droot::exec {

// kQueuedChunks waiting, plus the consumer's and the one being filled: ReadAhead counts them all.
namespace {

// What every zstd frame starts with (RFC 8878), little-endian.
constexpr unsigned char kZstdMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};

}  // namespace

Decompressor::Decompressor(int fd, uint64_t size, std::string name, FrameSkipping skipping)
    : fd_(fd), size_(size), name_(std::move(name)), compressed_{std::vector<char>(kChunkSize), std::vector<char>(kChunkSize)},
      skipping_(std::move(skipping)), sha256_(Digest::sha256()),
      ahead_([this](char* buf, size_t n) { return produce(buf, n); }, kChunkSize, kQueuedChunks + 2) {}

size_t Decompressor::produce(char* buf, size_t n) {
  // Every error reaches the consumer as a droot::Error with its message, whatever was thrown.
  try {
    if (!opened_) open();
    if (zstd_ && skipping_.index) return produce_frames(buf, n);
    return zstd_ ? produce_zstd(buf, n) : produce_archive(buf, n);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(e.what());
  } catch (...) {
    throw Error(name_ + ": unknown error while decompressing the payload");
  }
}

void Decompressor::open() {
  opened_ = true;
  first_block_ = read_compressed();
  if (first_block_ >= sizeof kZstdMagic && std::equal(kZstdMagic, kZstdMagic + sizeof kZstdMagic,
                                                      reinterpret_cast<const unsigned char*>(compressed_[current_].data()))) {
    zstd_.reset(ZSTD_createDCtx());
    if (!zstd_) throw Error("cannot allocate a zstd decoder");
    // A window up to 2 GiB, as libarchive allowed (droot-pack's --long stops at 128 MiB; the payload is
    // signed). The frames' XXH64 is not checked: see the header.
    if (ZSTD_isError(ZSTD_DCtx_setParameter(zstd_.get(), ZSTD_d_windowLogMax, 31)) ||
        ZSTD_isError(ZSTD_DCtx_setParameter(zstd_.get(), ZSTD_d_forceIgnoreChecksum, ZSTD_d_ignoreChecksum)))
      throw Error("cannot configure the zstd decoder");
    in_ = {compressed_[current_].data(), first_block_, 0};
    if (skipping_.index) {
      skipped_.assign(skipping_.index->frames.size(), false);
      plan_skips(0, 0);
      next_frame(0, 0);
    }
    return;
  }
  open_archive();
}

size_t Decompressor::produce_zstd(char* buf, size_t n) {
  ZSTD_outBuffer out{buf, n, 0};
  while (out.pos < out.size) {
    if (in_.pos == in_.size && offset_ < size_) {
      size_t got = read_compressed();
      in_ = {compressed_[current_].data(), got, 0};
    }
    const bool had_input = in_.pos < in_.size;
    const size_t before = out.pos;
    size_t rc = ZSTD_decompressStream(zstd_.get(), &out, &in_);
    if (ZSTD_isError(rc)) throw Error(name_ + ": corrupt payload: zstd: " + ZSTD_getErrorName(rc));
    // No input left: one more call flushes what the decoder still holds; nothing came out, it is done (and
    // its answer then is about a next frame that will never start).
    if (!had_input && out.pos == before) break;
    frame_complete_ = rc == 0;
  }
  if (out.pos > 0) return out.pos;
  if (!frame_complete_) throw Error(name_ + ": corrupt payload: the zstd stream ends in the middle of a frame");
  zstd_.reset();  // the decoder's memory is not needed while the tar parser finishes
  return end_of_stream();
}

size_t Decompressor::produce_frames(char* buf, size_t n) {
  const std::vector<FrameInfo>& frames = skipping_.index->frames;
  ZSTD_outBuffer out{buf, n, 0};
  if (frame_done_) {  // after handing over the end of the last frame: a skipped one is read past only now
    frame_done_ = false;
    next_frame(frame_ + 1, frame_tar_start_ + frames[frame_].tar_bytes);
  }
  while (frame_ < frames.size() && out.pos < out.size) {
    const FrameInfo& f = frames[frame_];
    if (in_.pos == in_.size && frame_in_left_ > 0) {
      const size_t got = read_compressed();
      if (got == 0) index_mismatch("frame " + std::to_string(frame_ + 1) + " goes past the payload's end");
      in_ = {compressed_[current_].data(), got, 0};
    }
    // Only this frame's bytes: the decoder must not run on into a frame that is to be skipped.
    ZSTD_inBuffer part{in_.src, in_.pos + static_cast<size_t>(std::min<uint64_t>(in_.size - in_.pos, frame_in_left_)),
                       in_.pos};
    const size_t before = out.pos;
    const size_t rc = ZSTD_decompressStream(zstd_.get(), &out, &part);
    if (ZSTD_isError(rc)) throw Error(name_ + ": corrupt payload: zstd: " + ZSTD_getErrorName(rc));
    const size_t consumed = part.pos - in_.pos;
    in_.pos = part.pos;
    frame_in_left_ -= consumed;
    frame_out_ += out.pos - before;
    auto which = [&] { return "frame " + std::to_string(frame_ + 1); };
    if (frame_out_ > f.tar_bytes) index_mismatch(which() + " decodes to more than " + std::to_string(f.tar_bytes) + " bytes");
    if (rc == 0) {
      if (frame_in_left_ != 0) index_mismatch(which() + " ends before its " + std::to_string(f.compressed) + " bytes");
      if (frame_out_ != f.tar_bytes)
        index_mismatch(which() + " decodes to " + std::to_string(frame_out_) + " bytes, not " + std::to_string(f.tar_bytes));
      if (out.pos > 0) {  // a chunk never holds bytes of two frames (see the header)
        frame_done_ = true;
        return out.pos;
      }
      next_frame(frame_ + 1, frame_tar_start_ + f.tar_bytes);
      continue;
    }
    if (frame_in_left_ == 0 && consumed == 0 && out.pos == before)
      index_mismatch(which() + " does not end within its " + std::to_string(f.compressed) + " bytes");
  }
  if (out.pos > 0) return out.pos;
  zstd_.reset();
  return end_of_stream();  // the index itself, read and hashed like every byte of the payload
}

void Decompressor::next_frame(size_t j, uint64_t tar_offset) {
  const std::vector<FrameInfo>& frames = skipping_.index->frames;
  for (; j < frames.size() && skipped_[j]; ++j) {
    skip_compressed(frames[j].compressed);
    tar_offset += frames[j].tar_bytes;
  }
  frame_ = j;
  frame_tar_start_ = tar_offset;
  frame_out_ = 0;
  if (j == frames.size()) return;
  frame_in_left_ = frames[j].compressed;
  // Before a byte of frame j is handed over, the frames after it are decided: when the tar parser reaches the
  // end of frame j, a Skip recorded there is already visible to it.
  plan_skips(j + 1, tar_offset + frames[j].tar_bytes);
}

void Decompressor::plan_skips(size_t j, uint64_t tar_offset) {
  const std::vector<FrameInfo>& frames = skipping_.index->frames;
  if (!skipping_.stored) return;
  for (; j < frames.size() && frames[j].content; ++j) {
    const bool stored = skipping_.stored(*frames[j].content);
    {
      std::lock_guard lock(skips_m_);
      skips_.push_back(Skip{tar_offset, frames[j].tar_bytes, *frames[j].content, !stored});
    }
    if (!stored) return;  // decoded: it plans what follows it when it starts
    skipped_[j] = true;
    tar_offset += frames[j].tar_bytes;
  }
}

void Decompressor::skip_compressed(uint64_t bytes) {
  while (bytes > 0) {
    if (in_.pos == in_.size) {
      const size_t got = read_compressed();
      if (got == 0) index_mismatch("a skipped frame goes past the payload's end");
      in_ = {compressed_[current_].data(), got, 0};
    }
    const auto take = static_cast<size_t>(std::min<uint64_t>(bytes, in_.size - in_.pos));
    in_.pos += take;
    bytes -= take;
  }
}

void Decompressor::index_mismatch(const std::string& what) const {
  throw Error(name_ + ": the payload does not match its frame index (" + what +
              "); the artifact was not written by droot-pack, or by a broken one: pack it again");
}

std::optional<Skip> Decompressor::content_frame_at(uint64_t tar_offset) {
  std::lock_guard lock(skips_m_);
  if (skips_.empty() || skips_.front().tar_offset > tar_offset) return std::nullopt;
  if (skips_.front().tar_offset < tar_offset)
    index_mismatch("the content frame at tar offset " + std::to_string(skips_.front().tar_offset) +
                   " is not where a regular file's data starts");
  return skips_.front();
}

std::optional<Skip> Decompressor::next_content_frame() {
  std::lock_guard lock(skips_m_);
  if (skips_.empty()) return std::nullopt;
  return skips_.front();
}

void Decompressor::pop_skip() {
  std::lock_guard lock(skips_m_);
  if (!skips_.empty()) skips_.pop_front();
}

size_t Decompressor::produce_archive(char* buf, size_t n) {
  archive* a = archive_.get();
  size_t size = 0;
  while (size < n) {
    la_ssize_t got = archive_read_data(a, buf + size, n - size);
    if (got < 0) fail("corrupt payload");
    if (got == 0) break;
    size += static_cast<size_t>(got);
  }
  if (size > 0) return size;
  archive_.reset();
  // Whatever follows the compressed stream up to the payload's end is hashed too: the verified sha256
  // covers every byte of [0, size).
  return end_of_stream();
}

size_t Decompressor::end_of_stream() {
  while (read_compressed() > 0) {
  }
  sha256_hex_ = to_hex(sha256_.finish());
  return 0;
}

void Decompressor::open_archive() {
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
  // The digest thread may still be hashing the buffer read last; the other one it finished with when the
  // last update() returned.
  std::vector<char>& buf = compressed_[current_ ^ 1];
  size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - offset_));
  if (want == 0) return 0;
  ssize_t n;
  do {
    n = ::pread(fd_, buf.data(), want, static_cast<off_t>(offset_));
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw_errno("cannot read the payload of " + name_);
  // The file was verified at this size: shorter now means it changed under us.
  if (n == 0) throw Error(name_ + ": the file shrank after it was verified (modified in place?); refusing it");
  current_ ^= 1;
  sha256_.update(buf.data(), static_cast<size_t>(n));  // waits for the previous block's hash
  offset_ += static_cast<uint64_t>(n);
  return static_cast<size_t>(n);
}

la_ssize_t Decompressor::on_read(archive* a, void* self, const void** buffer) {
  auto* d = static_cast<Decompressor*>(self);
  // libarchive is C: an exception must not cross it. Report the error through it, and keep the message.
  // (libarchive is done with the block it had once it asks for the next: the two buffers suffice.)
  try {
    if (d->first_block_ > 0) {  // read by open() already
      *buffer = d->compressed_[d->current_].data();
      return static_cast<la_ssize_t>(std::exchange(d->first_block_, 0));
    }
    size_t n = d->read_compressed();
    *buffer = d->compressed_[d->current_].data();
    return static_cast<la_ssize_t>(n);
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
  if (std::optional<Skip> left = next_content_frame())
    index_mismatch("the content frame at tar offset " + std::to_string(left->tar_offset) +
                   " is not where a regular file's data starts");
  return sha256_hex_;
}

}  // namespace droot::exec
