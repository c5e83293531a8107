// droot-pack's rule for special files — character and block devices, FIFOs, sockets (droot-artifact(5),
// "Special files"). `droot-exec run` mounts a /dev of its own over the image's, so a special file under dev/
// can never be used: droot-pack drops it (the dev/ directory and everything else in it stay) and counts it,
// and config.json records the count. A special file anywhere else is kept (deploy refuses it unless
// --allow-devices, as before) and reported by path.
#pragma once

#include <archive.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fd.h"
#include "mtree.h"

namespace droot::pack {

// AE_IFCHR, AE_IFBLK, AE_IFIFO or AE_IFSOCK.
bool is_special_file_type(unsigned filetype);
// A manifest type word of a special file: char, block or fifo (a tar has no sockets).
bool is_special_manifest_type(const std::string& type);
// "character device", "block device", "FIFO" or "socket", for messages; "" for other types.
std::string special_file_kind(unsigned filetype);
std::string special_file_kind(const std::string& manifest_type);
// A path below dev/ (a relative path as relative_path() gives it; "dev" itself is not below).
bool under_dev(const std::string& path);

enum class SpecialAction {
  keep,         // not a special file
  drop,         // a special file under dev/: left out of the tar and the manifest, counted
  keep_special  // a special file elsewhere: kept, reported
};

// The rule for one normalised export entry, in archive order. A hard link (`hardlink` its relative target)
// is what its target is: `target` is the target's manifest line, nullopt when the target is not in the
// artifact, which for a target under dev/ means it was a special file dropped there. A hard link under dev/
// to a dropped one is dropped with it; a hard link elsewhere to a dropped one cannot be kept (its inode is
// gone) and throws Error naming both paths. A hard link to a target that is neither in the artifact nor
// under dev/ gives `keep`: the caller reports the broken link.
SpecialAction special_action(const std::string& path, unsigned filetype, const char* hardlink,
                             const std::optional<ManifestEntry>& target);

// config.json, the artifact's first entry, records how many special files under dev/ droot-pack drops, so
// they are counted before any entry is written. The export is a tar in name order (dockerd and podman walk
// the tree sorted, each directory's whole subtree before the next name): it is read ahead up to the first
// entry past dev/ — the first whose leading name sorts after "dev" — and every byte read on the way is kept
// in an unnamed temporary file ($TMPDIR), from which the copy then reads it again before the rest of the
// export. What is kept is the export of dev/ and of the names that sort before it (".dockerenv", "bin",
// "boot", an image's "app" ...): a few KiB for a Debian image.
class DevLookahead {
 public:
  explicit DevLookahead(int export_fd);
  DevLookahead(const DevLookahead&) = delete;
  DevLookahead& operator=(const DevLookahead&) = delete;

  // Reads the export up to the first entry past dev/, or to its end, and returns the number of special files
  // under dev/ that special_action() will drop (hard links judged by their target, as it does). Throws Error
  // naming `image` (and the entry, if it was reading one's data) on a tar it cannot read.
  uint64_t count(const std::string& image);
  // Opens `reader` on the whole export from its first byte: what count() kept, then the rest.
  int open(archive* reader);
  uint64_t kept_bytes() const { return kept_size_; }

 private:
  static la_ssize_t read_ahead(archive* a, void* self, const void** buf);
  static la_ssize_t replay(archive* a, void* self, const void** buf);
  la_ssize_t read_export(archive* a);

  int fd_;
  UniqueFd kept_;
  uint64_t kept_size_ = 0;
  uint64_t replayed_ = 0;
  std::vector<char> buf_;
};

// True once an entry in name order is past dev/ and all it holds: its leading name sorts after "dev".
bool past_dev(const std::string& path);

}  // namespace droot::pack
