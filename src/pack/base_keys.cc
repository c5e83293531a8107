#include "base_keys.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <vector>

#include "archive_ptr.h"
#include "artifact_verify.h"
#include "error.h"
#include "hash.h"
#include "io.h"
#include "minisign.h"
#include "mtree.h"
#include "signals.h"
#include "trailer.h"

namespace droot::pack {
namespace {

constexpr size_t kMaxConfigSize = 16 << 20;  // as droot-exec reads it

// Bytes [0, size) of the file for libarchive, hashed on the way (sha256 of the payload).
class PayloadSource {
 public:
  PayloadSource(int fd, uint64_t size, std::string name) : fd_(fd), size_(size), name_(std::move(name)) {}

  static la_ssize_t read(archive* a, void* self, const void** out) {
    auto* s = static_cast<PayloadSource*>(self);
    try {
      size_t n = s->next();
      *out = s->buf_.data();
      return static_cast<la_ssize_t>(n);
    } catch (const std::exception& e) {
      archive_set_error(a, EIO, "%s", e.what());
      return -1;
    }
  }
  // Reads what libarchive did not ask for (the tar's end padding, the end of the compressed stream).
  void drain() {
    while (next() > 0) {
    }
  }
  // The payload's sha256, and the digest state to continue over the trailer.
  const Digest& digest() const { return sha_; }

 private:
  size_t next() {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf_.size(), size_ - offset_));
    if (want == 0) return 0;
    pread_exact(fd_, buf_.data(), want, offset_, name_);
    sha_.update(buf_.data(), want);
    offset_ += want;
    return want;
  }

  int fd_;
  uint64_t size_;
  std::string name_;
  uint64_t offset_ = 0;
  std::vector<char> buf_ = std::vector<char>(256 * 1024);
  Digest sha_ = Digest::sha256();
};

// The raw reader's decompressed bytes, as the tar reader's input.
struct Decompressed {
  archive* raw;
  std::vector<char> buf = std::vector<char>(256 * 1024);
  bool failed = false;  // the decompressor reported an error (so the tar reader's is not about the format)
  static la_ssize_t read(archive* a, void* self, const void** out);
};

class BaseReader {
 public:
  BaseReader(const std::string& path, ObjectKeySet& keys) : path_(path), keys_(keys) {}

  BaseArtifact read() {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("cannot open the base artifact " + path_ + " (--base)");
    fd_.reset(fd);
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) throw_errno("cannot stat " + path_);
    if (!S_ISREG(st.st_mode)) throw Error(path_ + ": not a regular file");
    file_size_ = static_cast<uint64_t>(st.st_size);
    if (file_size_ == 0) throw Error(path_ + ": empty file, not a droot artifact");
    char head[4] = {};
    pread_exact(fd_.get(), head, std::min<uint64_t>(sizeof head, file_size_), 0, path_);
    compressed_ = detect_compression(std::string_view(head, std::min<uint64_t>(sizeof head, file_size_))) != Compression::none;
    std::optional<Trailer> trailer = read_trailer(fd_.get(), file_size_, path_);
    const uint64_t payload_size = trailer ? trailer->payload_size : file_size_;
    std::string signed_sha256;
    if (!trailer) refuse_cut_trailer();
    if (trailer) {
      minisign::Signature sig = minisign::parse_signature(trailer->minisig_text, path_ + " (embedded signature)");
      auto fields = parse_trusted_comment(sig.trusted_comment);
      if (auto it = fields.find("payload_sha256"); it != fields.end()) signed_sha256 = it->second;
    }

    // Two readers: "raw" undoes the compression and yields the whole decompressed stream, which the tar reader
    // parses; once the tar has ended, the rest of the stream is decompressed too, so that a stream cut short
    // anywhere (even in the tar's end padding) is an error, not a wrong payload_sha256.
    PayloadSource source(fd_.get(), payload_size, path_);
    ArchiveReader raw_reader(archive_read_new());
    archive* raw = raw_reader.get();
    if (raw == nullptr) throw Error("cannot allocate a libarchive reader");
    if (archive_read_support_filter_zstd(raw) != ARCHIVE_OK || archive_read_support_filter_gzip(raw) != ARCHIVE_OK ||
        archive_read_support_filter_none(raw) != ARCHIVE_OK || archive_read_support_format_raw(raw) != ARCHIVE_OK)
      throw Error("libarchive lacks zstd, gzip or raw support: " + archive_error(raw));
    // A zstd or gzip stream that does not decompress is a damaged artifact; anything else is not one at all.
    auto undecodable = [&](const std::string& why) { return compressed_ ? damaged(why) : Error(not_an_artifact(why)); };
    if (archive_read_open(raw, &source, nullptr, &PayloadSource::read, nullptr) != ARCHIVE_OK)
      throw undecodable(archive_error(raw));
    archive_entry* stream = nullptr;
    int rc = archive_read_next_header(raw, &stream);
    if (rc == ARCHIVE_EOF) throw Error(not_an_artifact("nothing after decompression"));
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) throw undecodable(archive_error(raw));

    ArchiveReader tar_reader(archive_read_new());
    archive* tar = tar_reader.get();
    if (tar == nullptr) throw Error("cannot allocate a libarchive reader");
    if (archive_read_support_format_tar(tar) != ARCHIVE_OK) throw Error("libarchive lacks tar support: " + archive_error(tar));
    Decompressed decompressed{raw};
    if (archive_read_open(tar, &decompressed, nullptr, &Decompressed::read, nullptr) != ARCHIVE_OK)
      throw decompressed.failed ? damaged(archive_error(tar)) : Error(not_an_artifact(archive_error(tar)));

    BaseArtifact out;
    out.path = path_;
    read_entries(tar, decompressed, out);
    for (;;) {  // the decompressed rest: the tar's padding
      la_ssize_t n = archive_read_data(raw, decompressed.buf.data(), decompressed.buf.size());
      if (n < 0) throw damaged(archive_error(raw));
      if (n == 0) break;
    }
    source.drain();
    Digest file_digest(source.digest());
    Digest payload_digest(source.digest());
    out.base.payload_sha256 = to_hex(payload_digest.finish());
    if (!signed_sha256.empty() && signed_sha256 != out.base.payload_sha256)
      throw Error(path_ + ": checksum mismatch: its payload's sha256 is " + out.base.payload_sha256 +
                  " but its signature says " + signed_sha256 + " (a damaged or modified copy; use the original)");
    check_sidecar(file_digest, payload_size);
    return out;
  }

 private:
  // A compressed payload without a trailer is an unsigned artifact, or a signed one whose end was lost: the
  // minisig text of a trailer that lost its last bytes is still there, and no compressed stream holds it.
  void refuse_cut_trailer() {
    if (!compressed_) return;
    const uint64_t tail = std::min<uint64_t>(kMaxTrailerSize, file_size_);
    std::string bytes(tail, '\0');
    pread_exact(fd_.get(), bytes.data(), tail, file_size_ - tail, path_);
    if (bytes.find("untrusted comment: ") != std::string::npos)
      throw Error(path_ + ": truncated: its signature trailer is cut short (an incomplete copy?)");
  }

  std::string not_an_artifact(const std::string& why) const {
    return path_ + ": not a droot artifact (" + why + "); --base takes an artifact written by droot-pack";
  }

  void read_entries(archive* r, const Decompressed& decompressed, BaseArtifact& out) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(r, &entry);
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      throw decompressed.failed ? damaged(archive_error(r)) : Error(not_an_artifact(archive_error(r)));
    const std::string first = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (first != kConfigPath)
      throw Error(not_an_artifact("its first entry is '" + first + "', not " + std::string(kConfigPath)));
    ArtifactConfig config = parse_config_json(read_small(r, entry, kMaxConfigSize), path_ + ": " + std::string(kConfigPath));
    out.base.image = config.image.ref;
    out.base.id = config.image.id;

    bool manifest_seen = false;
    std::vector<char> buf(256 * 1024);
    for (;;) {
      throw_if_interrupted();
      rc = archive_read_next_header(r, &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) throw damaged(archive_error(r));
      const std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
      if (name == kManifestPath) {
        manifest_seen = true;
        continue;
      }
      if (name == kDeltaPath) {
        out.keys += read_delta_keys(r, buf);
        continue;
      }
      if (name == kDrootEnvPath || name.rfind(".droot/", 0) == 0) continue;
      // A hard link is the same inode as its target: nothing new. A file with extended attributes never
      // stands in for another (droot-artifact(5)).
      if (archive_entry_hardlink(entry) != nullptr || archive_entry_filetype(entry) != AE_IFREG) continue;
      if (archive_entry_xattr_count(entry) > 0) continue;
      ManifestEntry m;
      m.path = name;
      m.type = "file";
      m.mode = static_cast<uint32_t>(archive_entry_perm(entry)) & 07777;
      m.uid = static_cast<uint64_t>(archive_entry_uid(entry));
      m.gid = static_cast<uint64_t>(archive_entry_gid(entry));
      m.time = MtreeTime{static_cast<int64_t>(archive_entry_mtime(entry)),
                         static_cast<uint32_t>(archive_entry_mtime_nsec(entry))};
      Digest sha = Digest::sha256();
      for (;;) {
        la_ssize_t n = archive_read_data(r, buf.data(), buf.size());
        if (n < 0) throw damaged("reading " + name + ": " + archive_error(r));
        if (n == 0) break;
        sha.update(buf.data(), static_cast<size_t>(n));
        m.size += static_cast<uint64_t>(n);
      }
      m.sha256 = to_hex(sha.finish());
      keys_.add(object_key(m));
      ++out.keys;
    }
    if (!manifest_seen)
      throw Error(path_ + ": truncated: its tar ends before " + std::string(kManifestPath) +
                  ", which every artifact has last (an incomplete copy?)");
  }

  // The lines of a base's own delta.mtree: objects that a server which deployed it holds too. Read line by
  // line; only the current line is in memory.
  uint64_t read_delta_keys(archive* r, std::vector<char>& buf) {
    const std::string where = path_ + ": " + std::string(kDeltaPath);
    uint64_t count = 0;
    std::string pending;
    auto take = [&](std::string_view line) {
      std::optional<ManifestEntry> e = parse_manifest_line(line, where);
      if (!e) return;
      if (e->type != "file" || !e->time) throw Error(where + ": line for " + e->path + " is not a regular file with a time");
      keys_.add(object_key(*e));
      ++count;
    };
    for (;;) {
      la_ssize_t n = archive_read_data(r, buf.data(), buf.size());
      if (n < 0) throw damaged("reading " + std::string(kDeltaPath) + ": " + archive_error(r));
      if (n == 0) break;
      pending.append(buf.data(), static_cast<size_t>(n));
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
        take(std::string_view(pending).substr(start, nl - start));
      pending.erase(0, start);
    }
    take(pending);
    return count;
  }

  std::string read_small(archive* r, archive_entry* entry, size_t max) {
    if (archive_entry_size(entry) > static_cast<la_int64_t>(max))
      throw Error(not_an_artifact(std::string(kConfigPath) + " is larger than " + std::to_string(max >> 20) + " MiB"));
    std::string text;
    std::vector<char> buf(64 * 1024);
    for (;;) {
      la_ssize_t n = archive_read_data(r, buf.data(), buf.size());
      if (n < 0) throw damaged("reading " + std::string(kConfigPath) + ": " + archive_error(r));
      if (n == 0) break;
      text.append(buf.data(), static_cast<size_t>(n));
    }
    return text;
  }

  Error damaged(const std::string& why) const {
    return Error(path_ + ": damaged or truncated artifact: " + why + " (use a complete copy of the base)");
  }

  // PATH.sha256, as droot-pack writes it beside the artifact: the whole file's sha256.
  void check_sidecar(Digest& digest, uint64_t payload_size) {
    const std::string sidecar = path_ + ".sha256";
    if (::access(sidecar.c_str(), F_OK) != 0) return;
    std::vector<char> buf(64 * 1024);
    for (uint64_t off = payload_size; off < file_size_;) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), file_size_ - off));
      pread_exact(fd_.get(), buf.data(), want, off, path_);
      digest.update(buf.data(), want);
      off += want;
    }
    const std::string have = to_hex(digest.finish());
    const std::string line = read_file(sidecar, 4096);
    const std::string want = line.substr(0, line.find_first_of(" \t\n"));
    if (want != have)
      throw Error(path_ + ": checksum mismatch: its sha256 is " + have + " but " + sidecar + " says " + want +
                  " (a damaged or modified copy, or a stale sidecar)");
  }

  std::string path_;
  ObjectKeySet& keys_;
  UniqueFd fd_;
  uint64_t file_size_ = 0;
  bool compressed_ = false;  // its first bytes are zstd's or gzip's magic
};

la_ssize_t Decompressed::read(archive* a, void* self, const void** out) {
  auto* d = static_cast<Decompressed*>(self);
  la_ssize_t n = archive_read_data(d->raw, d->buf.data(), d->buf.size());
  if (n < 0) {
    // The decompressor's own words ("Truncated zstd input"), as the tar reader's error.
    d->failed = true;
    archive_set_error(a, EIO, "%s", archive_error(d->raw).c_str());
    return -1;
  }
  *out = d->buf.data();
  return n;
}

}  // namespace

BaseArtifact read_base_keys(const std::string& path, ObjectKeySet& keys) { return BaseReader(path, keys).read(); }

}  // namespace droot::pack
