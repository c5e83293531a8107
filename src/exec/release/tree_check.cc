#include "tree_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "beneath.h"
#include "dir_names.h"
#include "error.h"
#include "fd.h"
#include "hash.h"
#include "run_mountpoints.h"

namespace droot::exec {
namespace {

constexpr uint64_t kMaxManifestSize = 256 << 20;

std::string type_of(mode_t mode) {
  if (S_ISREG(mode)) return "file";
  if (S_ISDIR(mode)) return "dir";
  if (S_ISLNK(mode)) return "link";
  if (S_ISCHR(mode)) return "char";
  if (S_ISBLK(mode)) return "block";
  if (S_ISFIFO(mode)) return "fifo";
  return "socket";
}

// Reads all of an fd, hashing it: returns {bytes, sha256}.
std::pair<uint64_t, std::string> hash_fd(int fd, const std::string& what) {
  Digest sha = Digest::sha256();
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + what);
    }
    if (n == 0) break;
    sha.update(buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  return {total, to_hex(sha.finish())};
}

class Scanner {
 public:
  explicit Scanner(std::string root_path) : root_path_(std::move(root_path)) {}

  void scan_dir(int dir_fd, const std::string& rel, dev_t device) {
    for (const std::string& name : dir_names(dir_fd, where(rel))) {
      if (rel.empty() && (name == ".droot" || name == ".drootenv")) continue;
      const std::string path = rel.empty() ? name : rel + "/" + name;
      struct stat st {};
      if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("cannot stat " + where(path));
      ManifestEntry e;
      e.path = path;
      e.type = type_of(st.st_mode);
      e.mode = st.st_mode & 07777;
      e.uid = st.st_uid;
      e.gid = st.st_gid;
      if (S_ISREG(st.st_mode)) {
        // O_NOFOLLOW | O_NONBLOCK: the name was a regular file a moment ago; if it was swapped for a
        // symlink or a FIFO since, fail instead of following or blocking.
        int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) throw_errno("cannot open " + where(path));
        UniqueFd file(fd);
        std::tie(e.size, e.sha256) = hash_fd(file.get(), where(path));
      } else if (S_ISLNK(st.st_mode)) {
        std::vector<char> buf(static_cast<size_t>(st.st_size) + 2);
        ssize_t n = ::readlinkat(dir_fd, name.c_str(), buf.data(), buf.size());
        if (n < 0) throw_errno("cannot read the link " + where(path));
        e.link.assign(buf.data(), static_cast<size_t>(n));
      }
      entries_.emplace(path, e);
      // Another filesystem mounted inside the tree is not part of the release: note the mount point only.
      if (S_ISDIR(st.st_mode) && st.st_dev == device) {
        int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) throw_errno("cannot open " + where(path));
        UniqueFd sub(fd);
        scan_dir(sub.get(), path, device);
      }
    }
  }

  Manifest take() { return std::move(entries_); }

 private:
  std::string where(const std::string& rel) const { return rel.empty() ? root_path_ : root_path_ + "/" + rel; }

  std::string root_path_;
  Manifest entries_;
};

}  // namespace

Manifest scan_tree(int root_fd, const std::string& root_path) {
  struct stat st {};
  if (::fstat(root_fd, &st) != 0) throw_errno("cannot stat " + root_path);
  Scanner scanner(root_path);
  scanner.scan_dir(root_fd, "", st.st_dev);
  return scanner.take();
}

TreeCheck check_tree(int root_fd, const std::string& root_path) {
  Manifest manifest = parse_manifest(read_file_beneath(root_fd, ".droot/manifest.mtree", root_path, kMaxManifestSize),
                                     root_path + "/.droot/manifest.mtree");
  Manifest observed = scan_tree(root_fd, root_path);
  TreeCheck out;
  out.differences = diff_against_manifest(observed, manifest);
  out.run_mountpoints =
      set_aside_run_mountpoints(out.differences, observed, read_run_mountpoints(root_fd, root_path));
  return out;
}

}  // namespace droot::exec
