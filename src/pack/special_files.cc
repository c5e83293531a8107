#include "special_files.h"

#include <archive_entry.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "archive_ptr.h"
#include "entry_normalizer.h"
#include "error.h"
#include "io.h"
#include "mtree_spool.h"
#include "signals.h"
#include "spool_file.h"

namespace droot::pack {

bool is_special_file_type(unsigned filetype) {
  return filetype == AE_IFCHR || filetype == AE_IFBLK || filetype == AE_IFIFO || filetype == AE_IFSOCK;
}

bool is_special_manifest_type(const std::string& type) { return type == "char" || type == "block" || type == "fifo"; }

std::string special_file_kind(unsigned filetype) {
  switch (filetype) {
    case AE_IFCHR: return "character device";
    case AE_IFBLK: return "block device";
    case AE_IFIFO: return "FIFO";
    case AE_IFSOCK: return "socket";
    default: return "";
  }
}

std::string special_file_kind(const std::string& manifest_type) {
  if (manifest_type == "char") return "character device";
  if (manifest_type == "block") return "block device";
  if (manifest_type == "fifo") return "FIFO";
  return "";
}

bool under_dev(const std::string& path) { return path.size() > 4 && path.compare(0, 4, "dev/") == 0; }

SpecialAction special_action(const std::string& path, unsigned filetype, const char* hardlink,
                             const std::optional<ManifestEntry>& target) {
  bool special = false;
  if (hardlink != nullptr) {
    if (target) {
      special = is_special_manifest_type(target->type);
    } else if (under_dev(hardlink)) {
      // Everything under dev/ is in the artifact but the special files dropped there.
      if (!under_dev(path))
        throw Error(mtree_escape(path) + " is a hard link to " + mtree_escape(hardlink) +
                    ", a special file under dev/, which droot-pack drops (droot-exec run mounts its own /dev): "
                    "give " + mtree_escape(path) + " an inode of its own (mknod) or remove it from the image");
      special = true;
    } else {
      return SpecialAction::keep;
    }
  } else {
    special = is_special_file_type(filetype);
  }
  if (!special) return SpecialAction::keep;
  return under_dev(path) ? SpecialAction::drop : SpecialAction::keep_special;
}

bool past_dev(const std::string& path) { return path.substr(0, path.find('/')) > "dev"; }

DevLookahead::DevLookahead(int export_fd)
    : fd_(export_fd), kept_(make_spool_file("the export's first part")), buf_(256 * 1024) {}

la_ssize_t DevLookahead::read_export(archive* a) {
  for (;;) {
    ssize_t n = ::read(fd_, buf_.data(), buf_.size());
    if (n >= 0) return n;
    if (errno != EINTR) {
      archive_set_error(a, errno, "reading the export stream: %s", errno_text(errno).c_str());
      return -1;
    }
    if (pending_interrupt()) {
      archive_set_error(a, EINTR, "interrupted");
      return -1;
    }
  }
}

la_ssize_t DevLookahead::read_ahead(archive* a, void* self, const void** buf) {
  auto* d = static_cast<DevLookahead*>(self);
  la_ssize_t n = d->read_export(a);
  if (n <= 0) return n;
  try {
    write_all(d->kept_.get(), d->buf_.data(), static_cast<size_t>(n), "the export's first part");
  } catch (const std::exception& e) {
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
  d->kept_size_ += static_cast<uint64_t>(n);
  *buf = d->buf_.data();
  return n;
}

la_ssize_t DevLookahead::replay(archive* a, void* self, const void** buf) {
  auto* d = static_cast<DevLookahead*>(self);
  if (d->replayed_ < d->kept_size_) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(d->buf_.size(), d->kept_size_ - d->replayed_));
    try {
      pread_exact(d->kept_.get(), d->buf_.data(), want, d->replayed_, "the export's first part");
    } catch (const std::exception& e) {
      archive_set_error(a, EIO, "%s", e.what());
      return -1;
    }
    d->replayed_ += want;
    *buf = d->buf_.data();
    return static_cast<la_ssize_t>(want);
  }
  la_ssize_t n = d->read_export(a);
  if (n > 0) *buf = d->buf_.data();
  return n;
}

uint64_t DevLookahead::count(const std::string& image) {
  const std::string what = "the export of " + image;
  ArchiveReader reader(archive_read_new());
  archive* r = reader.get();
  archive_read_support_format_tar(r);
  if (archive_read_open(r, this, nullptr, read_ahead, nullptr) != ARCHIVE_OK)
    throw Error("cannot read " + what + ": " + archive_error(r));
  // The special files seen so far, for the hard links to them (a spool: their number is unbounded).
  std::optional<MtreeSpool> specials;
  uint64_t count = 0;
  archive_entry* entry = nullptr;
  for (;;) {
    int rc = archive_read_next_header(r, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) throw Error("reading " + what + ": " + archive_error(r));
    const std::string path = relative_path(archive_entry_pathname(entry));
    if (past_dev(path)) break;
    bool special = false;
    if (const char* link = archive_entry_hardlink(entry))
      special = specials && specials->find(relative_path(link)).has_value();
    else
      special = is_special_file_type(archive_entry_filetype(entry));
    if (special) {
      if (!specials) specials.emplace("the spool of special files");
      specials->append(ManifestEntry{path, "fifo", 0, 0, 0, 0, "", ""});
      if (under_dev(path)) ++count;
    }
    if (archive_read_data_skip(r) != ARCHIVE_OK)
      throw Error("reading " + path + " from " + what + ": " + archive_error(r));
  }
  return count;
}

int DevLookahead::open(archive* reader) { return archive_read_open(reader, this, nullptr, replay, nullptr); }

}  // namespace droot::pack
