#include "beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "error.h"

namespace droot::exec {

std::vector<std::string> split_entry_path(std::string_view raw) {
  if (raw.empty()) throw Error("empty path");
  // A leading '/' would make every *at() call ignore its dirfd: tar -P semantics are never wanted here.
  if (raw.front() == '/') throw Error("absolute path");
  std::vector<std::string> parts;
  while (!raw.empty()) {
    size_t slash = raw.find('/');
    std::string_view part = raw.substr(0, slash);
    raw.remove_prefix(slash == std::string_view::npos ? raw.size() : slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") throw Error("path has a '..' component");
    parts.emplace_back(part);
  }
  return parts;
}

std::string join_path(const std::vector<std::string>& parts, size_t count) {
  std::string out;
  for (size_t i = 0; i < count && i < parts.size(); ++i) {
    if (i) out += '/';
    out += parts[i];
  }
  return out;
}

UniqueFd open_beneath(int root, const std::string& rel, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  // BENEATH: ".." and absolute paths cannot leave `root`. NO_SYMLINKS: every component, the last included,
  // must be a real directory entry, so a symlink extracted earlier (even one pointing inside) is never
  // traversed. NO_XDEV: a mount point inside the tree (a bind mount planted by someone) is not crossed.
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  const char* path = rel.empty() ? "." : rel.c_str();
  long fd;
  do {
    fd = ::syscall(SYS_openat2, root, path, &how, sizeof how);
  } while (fd < 0 && errno == EINTR);
  // EAGAIN: the kernel saw a concurrent rename in the tree and will not vouch for the lookup; retry once.
  if (fd < 0 && errno == EAGAIN) fd = ::syscall(SYS_openat2, root, path, &how, sizeof how);
  return UniqueFd(fd < 0 ? -1 : static_cast<int>(fd));
}

std::string beneath_error_text(int err) {
  switch (err) {
    case ELOOP: return "a symlink is in the way (droot never writes through a symlink)";
    case EXDEV: return "it would leave the tree or cross a mount point";
    case ENOTDIR: return "a parent is not a directory";
    case ENOENT: return "a parent directory does not exist (it must be an earlier entry)";
    default: return errno_text(err);
  }
}

UniqueFd open_beneath_or_throw(int root, const std::string& rel, int flags, const std::string& doing) {
  UniqueFd fd = open_beneath(root, rel, flags);
  if (!fd) throw Error(doing + ": " + beneath_error_text(errno));
  return fd;
}

std::string read_file_beneath(int root, const std::string& rel, const std::string& root_path, uint64_t max_size) {
  const std::string path = root_path + "/" + rel;
  UniqueFd fd = open_beneath(root, rel, O_RDONLY | O_NONBLOCK);
  if (!fd) {
    if (errno == ENOENT) throw Error(path + " does not exist (not a tree deployed by droot-exec?)");
    throw Error("cannot open " + path + ": " + beneath_error_text(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + path);
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) > max_size)
    throw Error(path + " is not a regular file of at most " + std::to_string(max_size) + " bytes");
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("cannot read " + path);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

}  // namespace droot::exec
