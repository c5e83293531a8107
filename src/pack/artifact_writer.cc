#include "artifact_writer.h"

#include <unistd.h>

#include <thread>

#include "error.h"
#include "io.h"

namespace droot::pack {

ArtifactWriter::ArtifactWriter(int out_fd, std::string out_name, const CompressionOptions& options)
    : fd_(out_fd), name_(std::move(out_name)), archive_(archive_write_new()) {
  archive* a = archive_.get();
  if (a == nullptr) throw Error("cannot allocate a libarchive writer");
  auto check = [&](int rc, const std::string& what) {
    if (rc != ARCHIVE_OK) throw Error(what + ": " + archive_error(a));
  };
  // pax_restricted: ustar headers, with pax extensions only where ustar cannot say it (long names, big ids,
  // xattrs) — so no atime/ctime records and nothing that varies between runs.
  check(archive_write_set_format_pax_restricted(a), "cannot select the pax tar format");
  // File names are bytes, not text: without this libarchive converts them through the locale's charset and
  // refuses names that are not valid there (a Latin-1 name in the C locale).
  check(archive_write_set_format_option(a, "pax", "hdrcharset", "BINARY"), "pax hdrcharset");
  std::string level = options.level >= 0 ? std::to_string(options.level) : "";
  switch (options.compression) {
    case Compression::zstd: {
      int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
      zstd_ = std::make_unique<ZstdStream>(options.level >= 0 ? options.level : 3, threads,
                                           [this](const void* buf, size_t size) { sink(buf, size); });
      break;
    }
    case Compression::gzip:
      check(archive_write_add_filter_gzip(a), "cannot enable gzip compression");
      // Without this the gzip header carries the current time and two packs differ.
      check(archive_write_set_filter_option(a, "gzip", "timestamp", nullptr), "gzip timestamp");
      if (!level.empty()) check(archive_write_set_filter_option(a, "gzip", "compression-level", level.c_str()), "gzip level " + level);
      break;
    case Compression::none:
      break;
  }
  check(archive_write_set_bytes_per_block(a, 64 * 1024), "block size");
  // Otherwise the last block is padded with zeros after the compressed stream, which would sit between the
  // payload and the trailer and break `zstd -dc`.
  check(archive_write_set_bytes_in_last_block(a, 1), "last block");
  check(archive_write_open2(a, this, nullptr, &ArtifactWriter::on_write, nullptr, nullptr), "cannot start the archive");
}

la_ssize_t ArtifactWriter::on_write(archive* a, void* self, const void* buf, size_t size) {
  try {
    auto* w = static_cast<ArtifactWriter*>(self);
    if (w->zstd_) w->zstd_->write(buf, size);
    else w->sink(buf, size);
    return static_cast<la_ssize_t>(size);
  } catch (const std::exception& e) {
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
}

void ArtifactWriter::sink(const void* buf, size_t size) {
  write_all(fd_, buf, size, name_);
  if (!payload_done_) blake_.update(buf, size);
  sha_.update(buf, size);
  bytes_written_ += size;
}

void ArtifactWriter::write_header(archive_entry* entry) {
  if (archive_write_header(archive_.get(), entry) != ARCHIVE_OK)
    throw Error("cannot write the tar header of " + std::string(archive_entry_pathname(entry)) + ": " +
                archive_error(archive_.get()));
}

void ArtifactWriter::write_data(const void* data, size_t size) {
  la_ssize_t n = archive_write_data(archive_.get(), data, size);
  if (n < 0 || static_cast<size_t>(n) != size) throw Error("cannot write to " + name_ + ": " + archive_error(archive_.get()));
}

namespace {
ArchiveEntry plain_file_entry(const std::string& path, uint64_t size, int64_t mtime) {
  ArchiveEntry e(archive_entry_new());
  archive_entry_set_pathname(e.get(), path.c_str());
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), 0644);
  archive_entry_set_uid(e.get(), 0);
  archive_entry_set_gid(e.get(), 0);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
  archive_entry_set_mtime(e.get(), mtime, 0);
  return e;
}
}  // namespace

void ArtifactWriter::add_text_file(const std::string& path, std::string_view content, int64_t mtime) {
  ArchiveEntry e = plain_file_entry(path, content.size(), mtime);
  write_header(e.get());
  if (!content.empty()) write_data(content.data(), content.size());
}

void ArtifactWriter::add_file_from_fd(const std::string& path, int fd, uint64_t size, int64_t mtime) {
  ArchiveEntry e = plain_file_entry(path, size, mtime);
  write_header(e.get());
  std::vector<char> buf(256 * 1024);
  uint64_t offset = 0;
  while (offset < size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - offset));
    pread_exact(fd, buf.data(), want, offset, path + " spool");
    write_data(buf.data(), want);
    offset += want;
  }
}

PayloadDigests ArtifactWriter::finish_payload() {
  if (archive_write_close(archive_.get()) != ARCHIVE_OK)
    throw Error("cannot finish " + name_ + ": " + archive_error(archive_.get()));
  if (zstd_) zstd_->finish();
  payload_done_ = true;
  PayloadDigests d;
  d.blake2b512 = blake_.finish();
  Digest copy(sha_);
  d.sha256 = to_hex(copy.finish());
  d.size = bytes_written_;
  return d;
}

void ArtifactWriter::append_raw(std::string_view bytes) { sink(bytes.data(), bytes.size()); }

std::string ArtifactWriter::file_sha256() {
  Digest copy(sha_);
  return to_hex(copy.finish());
}

}  // namespace droot::pack
