#include "entry_normalizer.h"

#include <sys/stat.h>

namespace droot::pack {

std::string relative_path(const char* raw) {
  std::string p = raw ? raw : "";
  while (true) {
    if (p.rfind("./", 0) == 0) {
      p.erase(0, 2);
    } else if (!p.empty() && p[0] == '/') {
      p.erase(0, 1);
    } else {
      break;
    }
  }
  while (!p.empty() && p.back() == '/') p.pop_back();
  if (p == ".") p.clear();
  return p;
}

std::optional<std::string> skip_reason(const std::string& path) {
  if (path.empty()) return "the root directory itself";
  if (path == ".dockerenv") return "Docker's marker file";
  // Ours are authoritative: an image that already carries droot metadata (e.g. made by yuuki/droot) must not
  // produce two entries of the same name.
  if (path == ".drootenv" || path == ".droot" || path.rfind(".droot/", 0) == 0) return "droot's own metadata";
  return std::nullopt;
}

std::string normalise_entry(archive_entry* entry, int64_t source_date) {
  std::string path = relative_path(archive_entry_pathname(entry));
  archive_entry_set_pathname(entry, path.c_str());
  if (const char* target = archive_entry_hardlink(entry)) {
    std::string rel = relative_path(target);
    archive_entry_set_hardlink(entry, rel.c_str());
  }
  archive_entry_set_uname(entry, nullptr);
  archive_entry_set_gname(entry, nullptr);
  int64_t mtime = archive_entry_mtime_is_set(entry) ? archive_entry_mtime(entry) : source_date;
  archive_entry_set_mtime(entry, mtime > source_date ? source_date : mtime, 0);
  archive_entry_unset_atime(entry);
  archive_entry_unset_ctime(entry);
  archive_entry_unset_birthtime(entry);
  return path;
}

ManifestEntry manifest_entry_for(archive_entry* entry, const std::string& path) {
  ManifestEntry m;
  m.path = path;
  m.mode = static_cast<uint32_t>(archive_entry_perm(entry)) & 07777;
  m.uid = static_cast<uint64_t>(archive_entry_uid(entry));
  m.gid = static_cast<uint64_t>(archive_entry_gid(entry));
  switch (archive_entry_filetype(entry)) {
    case AE_IFDIR: m.type = "dir"; break;
    case AE_IFLNK:
      m.type = "link";
      m.link = archive_entry_symlink(entry) ? archive_entry_symlink(entry) : "";
      break;
    case AE_IFCHR: m.type = "char"; break;
    case AE_IFBLK: m.type = "block"; break;
    case AE_IFIFO: m.type = "fifo"; break;
    default: m.type = "file"; break;
  }
  return m;
}

}  // namespace droot::pack
