#include "artifact_writer.h"

#include <locale.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "error.h"
#include "io.h"

namespace droot::pack {
namespace {

// LC_CTYPE C.UTF-8 on the calling thread while it lives (uselocale: the process locale, and so every other
// libarchive object such as the export reader, stays "C"). Only the pax writer's name converter is made under
// it; C.UTF-8 ships with glibc's libc-bin on Debian and Ubuntu, and droot-pack runs on the build side.
class Utf8Ctype {
 public:
  explicit Utf8Ctype(const std::string& what) {
    locale_ = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
    if (locale_ == static_cast<locale_t>(nullptr))
      throw_errno("cannot write " + what + ": cannot load the C.UTF-8 locale (needed to write UTF-8 file names "
                  "into pax headers; it comes with glibc, e.g. /usr/lib/locale/C.utf8)");
    previous_ = ::uselocale(locale_);
    if (previous_ == static_cast<locale_t>(nullptr)) {
      int err = errno;
      ::freelocale(locale_);
      throw_errno("cannot switch to the C.UTF-8 locale", err);
    }
  }
  ~Utf8Ctype() {
    ::uselocale(previous_);
    ::freelocale(locale_);
  }
  Utf8Ctype(const Utf8Ctype&) = delete;
  Utf8Ctype& operator=(const Utf8Ctype&) = delete;

 private:
  locale_t locale_;
  locale_t previous_;
};

}  // namespace

ArtifactWriter::ArtifactWriter(int out_fd, std::string out_name, const CompressionOptions& options)
    : fd_(out_fd), name_(std::move(out_name)), archive_(archive_write_new()) {
  archive* a = archive_.get();
  if (a == nullptr) throw Error("cannot allocate a libarchive writer");
  auto check = [&](int rc, const std::string& what) {
    if (rc != ARCHIVE_OK) throw Error(what + ": " + archive_error(a));
  };
  // pax_restricted: ustar headers, with pax extensions only where ustar cannot say it (long names, non-ASCII
  // names, big ids, xattrs) — so no atime/ctime records and nothing that varies between runs.
  check(archive_write_set_format_pax_restricted(a), "cannot select the pax tar format");
  // File names are bytes. pax records hold UTF-8, and libarchive converts each name from the charset of the
  // locale that is current when its converter is made; a name that fails the conversion is written as-is with
  // `hdrcharset=BINARY` for that entry only (and ARCHIVE_WARN, accepted in write_header()). In the C locale
  // (this process never calls setlocale) every non-ASCII name would fail, so the converter is made now, once,
  // with a UTF-8 LC_CTYPE on this thread: UTF-8 names then pass unchanged (no normalisation on this side) and
  // only names that are not UTF-8 get the BINARY marker. The global option hdrcharset=BINARY would put it, in a
  // pax header of its own, before every entry — GNU tar warns about each one.
  // Extended attributes (file capabilities) once, as SCHILY.xattr.* — the key GNU tar, star and libarchive all
  // read. libarchive's default adds a base64 LIBARCHIVE.xattr.* copy, which GNU tar warns about and libarchive's
  // own reader then reports as a second attribute of the same name.
  check(archive_write_set_format_option(a, "pax", "xattrheader", "SCHILY"), "pax xattrheader");
  {
    Utf8Ctype utf8(name_);
    check(archive_write_set_format_option(a, "pax", "hdrcharset", "UTF-8"), "pax hdrcharset UTF-8");
  }
  std::string level = options.level >= 0 ? std::to_string(options.level) : "";
  switch (options.compression) {
    case Compression::zstd: {
      int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
      zstd_ = std::make_unique<ZstdStream>(options.level >= 0 ? options.level : 3, threads, options.long_window_log,
                                           [this](const void* buf, size_t size) { sink(buf, size); });
      // Long-distance matching finds its matches across the whole window: frames would cut it off.
      // Content frames are frames too: none when framing is off (one frame, no index to key them in).
      if (options.long_window_log == 0) {
        frame_bytes_ = options.frame_bytes;
        content_frame_bytes_ = frame_bytes_ != 0 ? options.content_frame_bytes : 0;
      }
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

ArtifactWriter::~ArtifactWriter() {
  // Abandoned after an error: archive_write_free() still finishes the tar (end blocks, padding); that must not
  // reach an output that is about to be removed, through a sink that may be what failed. (archive_write_fail()
  // would skip the close, but libarchive 3.6 then leaks its write buffer.)
  abandoned_ = !payload_done_;
}

la_ssize_t ArtifactWriter::on_write(archive* a, void* self, const void* buf, size_t size) {
  try {
    auto* w = static_cast<ArtifactWriter*>(self);
    if (w->abandoned_) return static_cast<la_ssize_t>(size);
    if (w->zstd_) w->compress(static_cast<const char*>(buf), size);
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

void ArtifactWriter::compress(const char* buf, size_t size) {
  while (!boundaries_.empty() && boundaries_.front() - tar_in_ <= size) {
    const size_t n = boundaries_.front() - tar_in_;
    zstd_->write(buf, n);
    buf += n;
    size -= n;
    tar_in_ += n;
    boundaries_.pop_front();
    end_frame();
  }
  zstd_->write(buf, size);
  tar_in_ += size;
}

void ArtifactWriter::end_frame() {
  zstd_->finish();
  if (frame_bytes_ == 0) return;
  frames_.at(frames_ended_++).compressed = bytes_written_ - frame_out_start_;
  frame_out_start_ = bytes_written_;
}

void ArtifactWriter::close_frame(uint64_t offset, uint64_t entries, std::optional<ContentKey> content) {
  if (content && content->sha256.empty())
    throw Error("internal error: the content frame of a file ended before content_written() gave its sha256");
  FrameInfo f;
  f.tar_bytes = offset - frame_start_;
  f.entries = entries;
  f.content = std::move(content);
  frames_.push_back(std::move(f));
  boundaries_.push_back(offset);
  frame_start_ = offset;
  frame_entries_ = 0;
}

void ArtifactWriter::start_entry(bool new_frame) {
  if (frame_bytes_ == 0) return;
  archive* a = archive_.get();
  // libarchive writes an entry's padding when the next header comes: finish the entry first, so that the tar
  // offset read next is where this header starts.
  if (archive_write_finish_entry(a) != ARCHIVE_OK) throw Error("cannot write to " + name_ + ": " + archive_error(a));
  // Bytes handed to libarchive's first (and only) filter so far, whether or not its block buffer passed them on.
  const auto offset = static_cast<uint64_t>(archive_filter_bytes(a, 0));
  if (content_) close_frame(offset, 0, std::exchange(content_, std::nullopt));  // a content frame ends here
  else if (offset > frame_start_ && (new_frame || offset - frame_start_ >= frame_bytes_))
    close_frame(offset, frame_entries_, std::nullopt);
  ++frame_entries_;
}

void ArtifactWriter::start_content_frame(archive_entry* e) {
  // Large regular files only (a frame costs an index line and zstd's history at its start), without extended
  // attributes (a file capability is part of the object key but not of the index line), and at most
  // kMaxContentFrames of them (the index stays small; what a reader holds in memory is bounded).
  constexpr size_t kMaxContentFrames = 16384;
  if (content_frame_bytes_ == 0 || archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) != nullptr ||
      archive_entry_size(e) < static_cast<la_int64_t>(content_frame_bytes_) || archive_entry_xattr_count(e) != 0 ||
      archive_entry_mtime(e) < 0 || content_frames_ >= kMaxContentFrames)
    return;
  ++content_frames_;
  // The header was written whole into libarchive's buffer: the frame of entries ends after it.
  close_frame(static_cast<uint64_t>(archive_filter_bytes(archive_.get(), 0)), frame_entries_, std::nullopt);
  content_ = ContentKey{static_cast<uint64_t>(archive_entry_size(e)), "",
                        static_cast<uint32_t>(archive_entry_perm(e)) & 07777, static_cast<uint64_t>(archive_entry_uid(e)),
                        static_cast<uint64_t>(archive_entry_gid(e)), static_cast<int64_t>(archive_entry_mtime(e)),
                        static_cast<uint32_t>(archive_entry_mtime_nsec(e))};
}

void ArtifactWriter::content_written(const std::string& sha256_hex) {
  if (content_) content_->sha256 = sha256_hex;
}

void ArtifactWriter::write_header(archive_entry* entry, bool new_frame, bool content_frame) {
  const char* raw_path = archive_entry_pathname(entry);
  const std::string path = raw_path ? raw_path : "";
  const char* raw_link = archive_entry_hardlink(entry) ? archive_entry_hardlink(entry) : archive_entry_symlink(entry);
  const std::string link = raw_link ? raw_link : "";
  const NameEncoding path_kind = classify_name(path);
  const NameEncoding link_kind = classify_name(link);
  if (path_kind == NameEncoding::surrogate || link_kind == NameEncoding::surrogate)
    throw Error("cannot write the tar header of " + path + ": its " +
                (path_kind == NameEncoding::surrogate ? "name" : "link target") +
                " contains a UTF-16 surrogate encoded as UTF-8 (bytes ED A0..ED BF), which libarchive's pax writer "
                "would rewrite; droot keeps names byte-exact, so it refuses this one");
  start_entry(new_frame);
  archive* a = archive_.get();
  const int rc = archive_write_header(a, entry);
  if (rc == ARCHIVE_OK) return content_frame ? start_content_frame(entry) : void();
  // The one warning expected: a name that is not UTF-8 was written as binary (see the constructor). The header
  // is complete then; any other warning, or this one for a UTF-8 name, is a real problem.
  const bool binary_expected = path_kind == NameEncoding::binary || link_kind == NameEncoding::binary;
  const std::string message = archive_error(a);
  // (libarchive reports it with ARCHIVE_ERRNO_FILE_FORMAT, which is EILSEQ on Linux but not in its public header.)
  if (rc == ARCHIVE_WARN && binary_expected && archive_errno(a) == EILSEQ &&
      message.rfind("Can't translate ", 0) == 0)
    return content_frame ? start_content_frame(entry) : void();
  throw Error("cannot write the tar header of " + path + ": " + message);
}

NameEncoding classify_name(std::string_view name) {
  // Strict UTF-8 (RFC 3629): no overlong forms, nothing above U+10FFFF. Surrogates are told apart because
  // libarchive accepts a pair of them (see NameEncoding).
  NameEncoding kind = NameEncoding::ascii;
  auto byte = [&](size_t i) { return static_cast<unsigned char>(name[i]); };
  auto continuation = [&](size_t i) { return i < name.size() && (byte(i) & 0xC0) == 0x80; };
  for (size_t i = 0; i < name.size();) {
    const unsigned char c = byte(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c == 0xED && continuation(i + 1) && byte(i + 1) >= 0xA0) return NameEncoding::surrogate;
    size_t length = 0;
    bool valid = false;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
      valid = continuation(i + 1);
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      valid = continuation(i + 1) && continuation(i + 2) && !(c == 0xE0 && byte(i + 1) < 0xA0);
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      valid = continuation(i + 1) && continuation(i + 2) && continuation(i + 3) &&
              !(c == 0xF0 && byte(i + 1) < 0x90) && !(c == 0xF4 && byte(i + 1) >= 0x90);
    }
    if (!valid) kind = NameEncoding::binary;  // keep looking: a surrogate later still has to be refused
    else if (kind == NameEncoding::ascii) kind = NameEncoding::utf8;
    i += valid ? length : 1;
  }
  return kind;
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
  write_header(e.get(), false, false);
  if (!content.empty()) write_data(content.data(), content.size());
}

void ArtifactWriter::add_file_from_fd(const std::string& path, int fd, uint64_t size, int64_t mtime) {
  ArchiveEntry e = plain_file_entry(path, size, mtime);
  write_header(e.get(), /*new_frame=*/true, /*content_frame=*/false);  // readable without the frames before
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
  if (zstd_) {
    if (content_)  // droot-pack always ends with the manifest; a content frame must not hold the end blocks
      throw Error("internal error: the payload ends with a content frame (no entry after a large file)");
    if (frame_bytes_ != 0) {
      FrameInfo last;
      last.tar_bytes = tar_in_ - frame_start_;
      last.entries = frame_entries_;
      frames_.push_back(last);
    }
    end_frame();
    if (frame_bytes_ != 0) {
      const std::string index = make_frame_index(frames_);
      sink(index.data(), index.size());
    }
  }
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
