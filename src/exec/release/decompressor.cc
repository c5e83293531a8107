#include "decompressor.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "error.h"

namespace droot::exec {

Decompressor::Decompressor(int fd, uint64_t size, std::string name)
    : fd_(fd), size_(size), name_(std::move(name)), compressed_(kChunkSize) {
  thread_ = std::thread([this] { run(); });
}

Decompressor::~Decompressor() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Decompressor::run() {
  std::string error;
  try {
    decompress();
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = name_ + ": unknown error while decompressing the payload";
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::move(error);
    done_ = true;
  }
  changed_.notify_all();
}

void Decompressor::decompress() {
  ArchiveReader reader(archive_read_new());
  archive* a = reader.get();
  if (a == nullptr) throw Error("cannot allocate a libarchive reader");
  // Only the compressions droot-pack writes (fewer decoders exposed to the payload; it is signed, but
  // defence in depth). The "raw" format hands the decompressed bytes over untouched: the tar parser is on
  // the other side of the queue.
  if (archive_read_support_filter_zstd(a) != ARCHIVE_OK || archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
      archive_read_support_filter_none(a) != ARCHIVE_OK || archive_read_support_format_raw(a) != ARCHIVE_OK)
    throw Error("libarchive lacks zstd/gzip support: " + archive_error(a));
  auto fail = [&](const std::string& what) {
    // A read error (the file shrank, EIO) is the root cause; libarchive's wording around it is noise.
    throw Error(!read_error_.empty() ? read_error_ : name_ + ": " + what + ": " + archive_error(a));
  };
  if (archive_read_open(a, this, nullptr, &Decompressor::on_read, nullptr) != ARCHIVE_OK)
    fail("cannot open the payload as a compressed stream");
  archive_entry* entry = nullptr;
  int rc = archive_read_next_header(a, &entry);
  if (rc == ARCHIVE_EOF) throw Error(name_ + ": the payload is empty");
  if (rc < ARCHIVE_WARN) fail("corrupt payload");
  for (;;) {
    Chunk chunk{take_buffer(), 0};
    while (chunk.size < kChunkSize) {
      la_ssize_t n = archive_read_data(a, chunk.bytes.get() + chunk.size, kChunkSize - chunk.size);
      if (n < 0) fail("corrupt payload");
      if (n == 0) break;
      chunk.size += static_cast<size_t>(n);
    }
    if (chunk.size == 0) break;
    if (!push(std::move(chunk))) return;
  }
  // Whatever follows the compressed stream up to the payload's end is hashed too: the verified sha256
  // covers every byte of [0, size).
  while (read_compressed() > 0) {
  }
  sha256_hex_ = to_hex(sha256_.finish());
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

std::unique_ptr<char[]> Decompressor::take_buffer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!spare_.empty()) {
      std::unique_ptr<char[]> buffer = std::move(spare_.back());
      spare_.pop_back();
      return buffer;
    }
  }
  return std::unique_ptr<char[]>(new char[kChunkSize]);
}

bool Decompressor::push(Chunk chunk) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return queue_.size() < kQueuedChunks || stopping_; });
  if (stopping_) return false;
  queue_.push_back(std::move(chunk));
  lock.unlock();
  changed_.notify_all();
  return true;
}

std::span<const char> Decompressor::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  // The previous chunk is no longer the caller's: its buffer goes back to the thread.
  if (current_.bytes) spare_.push_back(std::move(current_.bytes));
  current_.size = 0;
  changed_.wait(lock, [&] { return !queue_.empty() || done_; });
  if (!queue_.empty()) {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    changed_.notify_all();
    return {current_.bytes.get(), current_.size};
  }
  if (!error_.empty()) throw Error(error_);
  return {};
}

std::string Decompressor::finish() {
  while (!next().empty()) {
  }
  thread_.join();
  return sha256_hex_;
}

}  // namespace droot::exec
